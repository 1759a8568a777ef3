/**
 * Client certificates bound to a cluster: what the issuer puts in, what the pure check
 * reads back (from PEM, DER, node's X509Certificate and a TLS peer certificate), which
 * listener admits what, and the piscina path.
 */
import assert from 'node:assert/strict';
import { webcrypto, X509Certificate } from 'node:crypto';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { before, describe, test } from 'node:test';
import { importCa, type CertificateAuthority } from '../../src/pki/ca.js';
import {
  admitsCluster,
  CLUSTER_URI_PREFIX,
  clusterBindingOf,
  clusterBindingUri,
  parseSubjectAltNames,
  type ClusterBinding,
} from '../../src/pki/cluster-binding.js';
import { ADMIN_CLIENT, adminClientFor, issueClientCert, issueServingCert } from '../../src/pki/issue.js';
import { x509 } from '../../src/pki/x509.js';
import { PkiPool } from '../../src/workers/pki-pool.js';
import { freshCa } from './helpers.js';

/** A certificate with exactly these SANs, self-signed (the check never verifies the chain). */
async function certWithNames(names: ReadonlyArray<{ type: 'dns' | 'url' | 'ip' | 'email'; value: string }>): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=kubernetes-admin',
    keys: keys as unknown as CryptoKeyPair,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([...names])],
  });
  return cert.toString('pem');
}

/** A certificate with a DNS name and exactly these SAN URIs. */
function certWithUris(uris: readonly string[]): Promise<string> {
  return certWithNames([{ type: 'dns', value: 'example.test' }, ...uris.map((value) => ({ type: 'url' as const, value }))]);
}

describe('cluster-bound client certificates', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await importCa(await freshCa('ec-p256', 'tower-proxy-ca'));
  });

  test('the proxy\'s kubeconfig certificate for c5 carries c5 in a SAN URI, subject unchanged', async () => {
    const issued = await issueClientCert(ca, adminClientFor('c5'));
    const cert = new X509Certificate(issued.certPem);
    assert.equal(cert.subjectAltName, `URI:${CLUSTER_URI_PREFIX}c5`);
    assert.match(cert.subject, /^O=system:masters\nCN=kubernetes-admin$/);
    assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
    const bound: ClusterBinding = { kind: 'bound', cluster: 'c5' };
    assert.deepEqual(clusterBindingOf(issued.certPem), bound, 'from PEM');
    assert.deepEqual(clusterBindingOf(cert.raw), bound, 'from DER');
    assert.deepEqual(clusterBindingOf(cert), bound, 'from node:crypto X509Certificate');
  });

  test('certificates without a binding URI are unbound', async () => {
    assert.deepEqual(clusterBindingOf((await issueClientCert(ca, ADMIN_CLIENT)).certPem), { kind: 'unbound' });
    assert.deepEqual(clusterBindingOf(await certWithUris(['https://example.test/x', 'urn:other:thing'])), { kind: 'unbound' });
    const serving = await issueServingCert(ca, { hosts: ['127.0.0.1'] });
    assert.deepEqual(clusterBindingOf(serving.certPem), { kind: 'unbound' });
  });

  test('the URN prefix is matched without regard to case, the name exactly', async () => {
    assert.deepEqual(clusterBindingOf(await certWithUris(['URN:KubeSphere:Tower:Cluster:c5'])), { kind: 'bound', cluster: 'c5' });
    assert.deepEqual(clusterBindingOf(await certWithUris([`${CLUSTER_URI_PREFIX}c5`, `${CLUSTER_URI_PREFIX}c5`])), { kind: 'bound', cluster: 'c5' });
  });

  test('bindings that cannot be honoured are malformed', async () => {
    const cases: Array<[string, string | Uint8Array, RegExp]> = [
      ['two clusters', await certWithUris([`${CLUSTER_URI_PREFIX}c5`, `${CLUSTER_URI_PREFIX}c6`]), /more than one cluster \(c5, c6\)/],
      ['an invalid name', await certWithUris([`${CLUSTER_URI_PREFIX}Not_A_Name`]), /"Not_A_Name", not a valid cluster name/],
      ['an empty name', await certWithUris([CLUSTER_URI_PREFIX]), /"", not a valid cluster name/],
      ['bytes that are no certificate', new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), /do not parse/],
      ['PEM that is no certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /do not parse/],
    ];
    for (const [what, input, reason] of cases) {
      const binding = clusterBindingOf(input);
      assert.equal(binding.kind, 'malformed', what);
      assert.match(binding.kind === 'malformed' ? binding.reason : '', reason, what);
    }
  });

  test('a SAN value that looks like more entries stays one value', async () => {
    const evil = `${CLUSTER_URI_PREFIX}evil`;
    assert.deepEqual(clusterBindingOf(await certWithNames([{ type: 'dns', value: `x, URI:${evil}` }])), { kind: 'unbound' });
    assert.deepEqual(clusterBindingOf(await certWithNames([{ type: 'email', value: `a@b, URI:${evil}` }, { type: 'ip', value: '::1' }])), { kind: 'unbound' });
    const joined = clusterBindingOf(await certWithUris([`${CLUSTER_URI_PREFIX}c5, URI:${CLUSTER_URI_PREFIX}c6`]));
    assert.equal(joined.kind, 'malformed');
    assert.match(joined.kind === 'malformed' ? joined.reason : '', /"c5, URI:urn:kubesphere:tower:cluster:c6", not a valid cluster name/);
    const accented = clusterBindingOf(await certWithUris([`${CLUSTER_URI_PREFIX}c\u00e9`]));
    assert.match(accented.kind === 'malformed' ? accented.reason : '', /"c\u00e9", not a valid cluster name/);
  });

  test('subjectAltName text: entries, JSON-quoted values, and text that is not of that form', () => {
    assert.deepEqual(parseSubjectAltNames('URI:urn:a:b, DNS:x.test, IP Address:0:0:0:0:0:0:0:1'), [
      { type: 'URI', value: 'urn:a:b' },
      { type: 'DNS', value: 'x.test' },
      { type: 'IP Address', value: '0:0:0:0:0:0:0:1' },
    ]);
    assert.deepEqual(parseSubjectAltNames('URI:"a\\u002c URI:b \\"q\\"", DNS:c'), [
      { type: 'URI', value: 'a, URI:b "q"' },
      { type: 'DNS', value: 'c' },
    ]);
    assert.deepEqual(parseSubjectAltNames(''), []);
    for (const bad of ['no colon', 'URI:"unterminated', 'URI:"x"junk', 'URI:"\\x"']) assert.equal(parseSubjectAltNames(bad), undefined, bad);
  });

  test('a listener of X admits certificates bound to X or unbound, nothing else', () => {
    const bound5: ClusterBinding = { kind: 'bound', cluster: 'c5' };
    assert.equal(admitsCluster(bound5, 'c5'), true);
    assert.equal(admitsCluster(bound5, 'c6'), false);
    assert.equal(admitsCluster({ kind: 'unbound' }, 'c6'), true);
    assert.equal(admitsCluster({ kind: 'malformed', reason: 'x' }, 'c5'), false);
  });

  test('only valid cluster names can be bound', async () => {
    assert.equal(clusterBindingUri('c5.example'), `${CLUSTER_URI_PREFIX}c5.example`);
    assert.throws(() => clusterBindingUri('C5'), /not a valid cluster name/);
    await assert.rejects(issueClientCert(ca, { ...ADMIN_CLIENT, cluster: 'a b' }), /not a valid cluster name/);
  });

  test('the piscina pool issues bound certificates too', async () => {
    const pool = await PkiPool.create(await freshCa('rsa-2048'), { mode: 'worker', threads: 1 });
    try {
      const issued = await pool.issueClientCert(adminClientFor('member-7'));
      assert.deepEqual(clusterBindingOf(issued.certPem), { kind: 'bound', cluster: 'member-7' });
    } finally {
      await pool.destroy();
    }
  });

  test('read from a TLS peer certificate (as a kube listener reads it, and the full one)', async () => {
    const [serving, bound] = await Promise.all([issueServingCert(ca, { hosts: ['127.0.0.1'] }), issueClientCert(ca, adminClientFor('c5'))]);
    const seen: ClusterBinding[] = [];
    const server = createServer({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
      seen.push(clusterBindingOf(socket.getPeerX509Certificate()!), clusterBindingOf(socket.getPeerCertificate()));
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: bound.certPem, key: bound.keyPem });
        socket.on('error', reject);
        socket.on('close', () => resolve());
        socket.resume();
      });
      assert.deepEqual(seen, [{ kind: 'bound', cluster: 'c5' }, { kind: 'bound', cluster: 'c5' }]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
