/**
 * [cert binding wiring — lead] A kubeconfig the proxy issued for one cluster, used on
 * another cluster's kube listener of the real bin/proxy, with the real kubectl: refused
 * before anything reaches the member. The certificates are what the proxy issues
 * (issueClientCert with `cluster`, see src/pki/cluster-binding.ts): bound to `evil`,
 * bound to `good`, and unbound (as one made with openssl from the CA key).
 *
 * Before: any certificate signed by the proxy CA opened every cluster (the kubeconfig of
 * c5 ran `kubectl get ns` on c6).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kubectl } from '../../dev/demo/kubectl.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { adminClientFor, buildKubeconfig, importCa, issueClientCert, type IssuedCert } from '../../src/pki/index.js';
import { startHostileWorld, type HostileWorld } from '../helpers/hostile-world.js';

describe('[cert binding wiring — lead] a kubeconfig of one cluster used on another', { timeout: 120_000 }, () => {
  let world: HostileWorld;
  let kubectl: Kubectl;
  const certs: Record<'evil' | 'good', IssuedCert> = {} as never;
  before(async () => {
    world = await startHostileWorld();
    const ca = await importCa(world.ca);
    certs.evil = await issueClientCert(ca, adminClientFor(world.evil.name));
    certs.good = await issueClientCert(ca, adminClientFor(world.good.name));
    kubectl = new Kubectl({ kubeconfig: '/dev/null', cacheDir: join(world.dir, 'kubectl-cache'), env: { ...process.env, KUBECONFIG: '', HOME: world.dir }, cwd: PACKAGE_ROOT });
  });
  after(() => world?.close());

  /** A kubeconfig for `good`'s kube listener holding `cert`. */
  const kubeconfigWith = async (name: string, cert: IssuedCert) => {
    const file = join(world.dir, `${name}.kubeconfig`);
    const yaml = buildKubeconfig({ server: `https://127.0.0.1:${world.good.kubePort}`, clusterName: world.good.name, caPem: world.ca.certPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem });
    await writeFile(file, yaml, { mode: 0o600 });
    return file;
  };

  it('kubectl with the kubeconfig of `evil` is refused on `good`, and nothing reaches the member', async () => {
    const seen = world.member.seen.length;
    const result = await kubectl.run(['get', '--raw', '/version'], { kubeconfig: await kubeconfigWith('evil-on-good', certs.evil) });
    assert.notEqual(result.code, 0, `kubectl succeeded: ${result.stdout}`);
    assert.equal(world.member.seen.length, seen, 'the request reached the member');
    assert.equal(await statusWith(world, certs.evil), 'refused');
  });

  it('the kubeconfig of `good` and an unbound certificate still work on `good`', async () => {
    const result = await kubectl.run(['get', '--raw', '/version'], { kubeconfig: await kubeconfigWith('good-on-good', certs.good) });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /v1\.32\.0-member/);
    assert.equal(await statusWith(world, certs.good), 200);
    assert.equal(await statusWith(world, world.client), 200);
  });

  // A returning client may resume its TLS session (no certificate is sent again): the
  // binding is read from the session's certificate, so resuming changes nothing.
  it('a resumed TLS session keeps its certificate: `good` resumes and is served, `evil` resumes and is still refused', async () => {
    const seen = world.member.seen.length;
    for (const [name, expected] of [['good', 200], ['evil', 403]] as const) {
      const agent = new HttpsAgent({ keepAlive: false, maxCachedSessions: 4 });
      try {
        const first = await getVia(world, certs[name], agent);
        const second = await getVia(world, certs[name], agent);
        assert.deepEqual([first, second], [{ status: expected, resumed: false }, { status: expected, resumed: true }], name);
      } finally {
        agent.destroy();
      }
    }
    assert.equal(world.member.seen.length, seen + 2, 'only the two requests of `good` reached the member');
  });
});

/** GET /version on `good`'s kube listener with `cert`, over a new connection of `agent` (false: no agent, no kept sessions). */
function getVia(world: HostileWorld, cert: IssuedCert, agent: HttpsAgent | false): Promise<{ status: number; resumed: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: world.good.kubePort, path: '/version', agent, ca: world.ca.certPem, cert: cert.certPem, key: cert.keyPem, timeout: 5_000 },
      (res) => {
        const resumed = (res.socket as TLSSocket).isSessionReused();
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, resumed }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** GET /version on `good`'s kube listener with `cert`: the HTTP status, or 'refused' (TLS or connection refused). */
function statusWith(world: HostileWorld, cert: IssuedCert): Promise<number | 'refused'> {
  return getVia(world, cert, false).then(
    ({ status }) => (status === 403 || status === 401 ? 'refused' : status),
    () => 'refused' as const,
  );
}
