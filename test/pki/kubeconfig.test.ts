import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { importCa } from '../../src/pki/ca.js';
import { ADMIN_CLIENT, issueClientCert } from '../../src/pki/issue.js';
import { buildKubeconfig } from '../../src/pki/kubeconfig.js';
import { freshCa } from './helpers.js';

interface Kubeconfig {
  apiVersion: string;
  kind: string;
  clusters: { name: string; cluster: Record<string, string> }[];
  users: { name: string; user: Record<string, string> }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
}

const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

test('kubeconfig carries the server, CA, client cert and key as base64', async () => {
  const ca = await importCa(await freshCa());
  const client = await issueClientCert(ca, ADMIN_CLIENT);
  const text = buildKubeconfig({
    server: 'https://10.96.1.2:6443',
    clusterName: 'member-1',
    caPem: client.caPem,
    clientCertPem: client.certPem,
    clientKeyPem: client.keyPem,
  });
  const kc = parse(text) as Kubeconfig;
  assert.equal(kc.apiVersion, 'v1');
  assert.equal(kc.kind, 'Config');
  assert.equal(kc.clusters.length, 1);
  assert.equal(kc.clusters[0]?.name, 'member-1');
  assert.equal(kc.clusters[0]?.cluster['server'], 'https://10.96.1.2:6443');
  assert.equal(unb64(kc.clusters[0]?.cluster['certificate-authority-data']), ca.certPem);
  assert.equal(kc.users[0]?.name, 'kubernetes-admin');
  assert.equal(unb64(kc.users[0]?.user['client-certificate-data']), client.certPem);
  assert.equal(unb64(kc.users[0]?.user['client-key-data']), client.keyPem);
  assert.deepEqual(kc.contexts[0]?.context, { cluster: 'member-1', user: 'kubernetes-admin' });
  assert.equal(kc['current-context'], kc.contexts[0]?.name);
  assert.doesNotMatch(text, /-----BEGIN/, 'PEM only as base64');
});
