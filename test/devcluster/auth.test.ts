/** Authentication: client certificates from the cluster CA or known bearer tokens; anything else is a 401 Status. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { startDevCluster } from '../../devcluster/index.js';
import type { DevCluster } from '../../devcluster/index.js';
import { call } from './http-client.js';
import { startHarness } from './helpers.js';

describe('devcluster authentication', () => {
  let cluster: DevCluster;
  let other: DevCluster;
  before(async () => {
    [cluster, other] = await Promise.all([startDevCluster({ name: 'auth' }), startDevCluster({ name: 'other' })]);
  });
  after(() => Promise.all([cluster.stop(), other.stop()]));

  it('answers 401 Unauthorized as a Status without credentials or with an unknown token', async () => {
    for (const auth of ['none', 'bad-token'] as const) {
      const r = await call(cluster, 'GET', '/api/v1/namespaces', { auth });
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    }
  });

  it('accepts the admin token and the admin client certificate', async () => {
    assert.equal((await call(cluster, 'GET', '/api/v1/namespaces', { auth: 'token' })).status, 200);
    assert.equal((await call(cluster, 'GET', '/api/v1/namespaces', { auth: 'cert' })).status, 200);
  });

  it('rejects a client certificate from another cluster CA', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: cluster.port, path: '/api', ca: cluster.caPem, cert: other.adminCert.certPem, key: other.adminCert.keyPem, agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 401);
  });

  it('accepts tokens added later', async () => {
    cluster.addToken('extra-token-123', 'robot', ['robots']);
    const r = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: cluster.port, path: '/api', ca: cluster.caPem, headers: { Authorization: 'Bearer extra-token-123' }, agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(r, 200);
  });

  it('serves /version (1.32) and health without credentials, like an apiserver with anonymous public info', async () => {
    const r = await call(cluster, 'GET', '/version', { auth: 'none' });
    assert.equal(r.status, 200);
    const v = r.json as { major: string; minor: string; gitVersion: string };
    assert.equal(v.major, '1');
    assert.equal(v.minor, '32');
    assert.match(v.gitVersion, /^v1\.32\.\d+$/);
    assert.equal((await call(cluster, 'GET', '/readyz', { auth: 'none' })).text, 'ok');
  });

  it('lets kubectl authenticate with the token kubeconfig', async () => {
    const h = await startHarness({ name: 'tok' });
    try {
      const tokenKc = await h.file('token-kubeconfig', h.cluster.tokenKubeconfig);
      const r = await h.kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig: tokenKc });
      assert.equal(r.stdout, 'namespace/default\n', r.stderr);
      const bad = await h.kubectl(['get', 'ns'], { kubeconfig: await h.file('bad', h.cluster.tokenKubeconfig.replace(h.cluster.adminToken, 'wrong')) });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /Unauthorized|must be logged in/);
    } finally {
      await h.close();
    }
  });
});
