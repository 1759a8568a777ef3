/** The cluster controller against a devcluster: what docs/protocol.md §6 says it does, done better. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { getCondition, TOWER_NAMESPACE, type ClusterObject } from '../../src/kube/cluster-types.js';
import type { ServiceObject } from '../../src/kube/cluster-plan.js';
import { until } from '../helpers/wait.js';
import { startControllerFixture, type ControllerFixture } from './controller-fixture.js';

const initialized = (c: ClusterObject) => getCondition(c, 'Initialized')?.status === 'True';
const service = (f: ControllerFixture, name: string) =>
  f.client.json<ServiceObject>({ method: 'GET', path: `/api/v1/namespaces/${TOWER_NAMESPACE}/services/mc-${name}` });

describe('cluster controller (CRD without a status subresource, as KubeSphere ships it)', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await startControllerFixture();
  });
  after(() => f.close());

  it('initializes a proxy cluster: token, ports, Service, endpoints, Initialized', async () => {
    await f.createCluster('alpha');
    const c = await f.waitCluster('alpha', initialized, 'Initialized=True');
    const conn = c.spec!.connection!;
    assert.match(conn.token ?? '', /^[0-9a-f]{64}$/);
    assert.ok(conn.kubernetesAPIServerPort! >= 6000 && conn.kubernetesAPIServerPort! <= 7000);
    assert.equal(conn.kubesphereAPIServerPort, conn.kubernetesAPIServerPort! + 10_000);
    const svc = await service(f, 'alpha');
    assert.equal(svc.spec.type, 'ClusterIP');
    assert.deepEqual(svc.spec.selector, { app: 'tower', 'app.kubernetes.io/name': 'tower' });
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.name, p.port, p.targetPort]),
      [['kubernetes', 6443, conn.kubernetesAPIServerPort], ['kubesphere', 80, conn.kubesphereAPIServerPort]],
    );
    assert.equal(conn.kubernetesAPIEndpoint, `https://${svc.spec.clusterIP}:6443`);
    assert.equal(conn.kubesphereAPIEndpoint, `http://${svc.spec.clusterIP}:80`);
    assert.equal(f.controller.snapshot().get('alpha')?.token, conn.token);
  });

  it('gives every cluster its own ports, skipping ports something already listens on', async () => {
    const taken = await f.getCluster('alpha');
    const next = taken.spec!.connection!.kubernetesAPIServerPort! + 1;
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(next, '127.0.0.1', resolve));
    try {
      await Promise.all(['b1', 'b2', 'b3'].map((n) => f.createCluster(n)));
      const clusters = await Promise.all(['b1', 'b2', 'b3'].map((n) => f.waitCluster(n, initialized, 'Initialized')));
      const ports = [taken, ...clusters].flatMap((c) => [c.spec!.connection!.kubernetesAPIServerPort!, c.spec!.connection!.kubesphereAPIServerPort!]);
      assert.equal(new Set(ports).size, ports.length, `ports collide: ${ports}`);
      assert.ok(!ports.includes(next), 'a port in use was handed out');
    } finally {
      squatter.close();
    }
  });

  it('keeps a token it was given and changes no token or port across a restart', async () => {
    await f.createCluster('given', { joinFederation: true, connection: { type: 'proxy', token: 'my-own-token' } });
    const before = await f.waitCluster('given', initialized, 'Initialized');
    assert.equal(before.spec!.connection!.token, 'my-own-token');
    await f.restartController();
    const after = await f.getCluster('given');
    assert.deepEqual(
      [after.spec!.connection!.token, after.spec!.connection!.kubernetesAPIServerPort],
      [before.spec!.connection!.token, before.spec!.connection!.kubernetesAPIServerPort],
    );
    assert.equal(f.controller.snapshot().get('given')?.kubernetesAPIServerPort, before.spec!.connection!.kubernetesAPIServerPort);
  });

  it('on agent connect writes a kubeconfig and AgentAvailable; on the last disconnect AgentAvailable False', async () => {
    f.controller.agentsChanged('alpha', 1);
    const up = await f.waitCluster('alpha', (c) => getCondition(c, 'AgentAvailable')?.status === 'True' && Boolean(c.spec?.connection?.kubeconfig), 'AgentAvailable=True');
    const kubeconfig = Buffer.from(up.spec!.connection!.kubeconfig!, 'base64').toString('utf8');
    assert.match(kubeconfig, new RegExp(`server: ${up.spec!.connection!.kubernetesAPIEndpoint!.replace(/[.]/g, '\\.')}`));
    assert.match(kubeconfig, /client-certificate-data/);
    f.controller.agentsChanged('alpha', 2);
    f.controller.agentsChanged('alpha', 0);
    const down = await f.waitCluster('alpha', (c) => getCondition(c, 'AgentAvailable')?.status === 'False', 'AgentAvailable=False');
    assert.equal(getCondition(down, 'AgentAvailable')?.message, 'Agent has not connected to proxy.');
    // Reconnecting reuses the kubeconfig: no new certificate per connection.
    f.controller.agentsChanged('alpha', 1);
    const again = await f.waitCluster('alpha', (c) => getCondition(c, 'AgentAvailable')?.status === 'True', 'AgentAvailable=True again');
    assert.equal(again.spec!.connection!.kubeconfig, up.spec!.connection!.kubeconfig);
  });

  it('externalKubeAPIEnabled: LoadBalancer Service with the annotations, then the external endpoint once it has an ingress', async () => {
    await f.createCluster('ext', { joinFederation: true, externalKubeAPIEnabled: true, connection: { type: 'proxy' } }, {
      // The Go tower's key, misspelling included: KubeSphere writes exactly this.
      'tower.kubesphere.io/external-lb-service-annoations': JSON.stringify({ 'lb.example.com/kind': 'public' }),
    });
    await f.waitCluster('ext', initialized, 'Initialized');
    const svc = await service(f, 'ext');
    assert.equal(svc.spec.type, 'LoadBalancer');
    assert.equal(svc.metadata.annotations?.['lb.example.com/kind'], 'public');
    await f.client.json({
      method: 'PATCH',
      path: `/api/v1/namespaces/${TOWER_NAMESPACE}/services/mc-ext/status`,
      body: { status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } },
    });
    const ready = await f.waitCluster('ext', (c) => getCondition(c, 'ExternalAccessReady')?.status === 'True', 'ExternalAccessReady');
    assert.equal(ready.spec!.connection!.externalKubernetesAPIEndpoint, 'https://203.0.113.7:6443');
    assert.ok(f.controller.snapshot().get('ext')?.extraHosts?.includes('203.0.113.7'), 'the ingress host goes into the serving certificate');
  });

  it('tears down a deleted cluster and one that stops being a proxy cluster', async () => {
    await f.client.json({ method: 'DELETE', path: '/apis/cluster.kubesphere.io/v1alpha1/clusters/b1' });
    await f.waitServed('b1', false);
    await assert.rejects(service(f, 'b1'), /not found/i);
    // b2 has an agent: AgentAvailable True, until it is no proxy cluster any more.
    f.controller.agentsChanged('b2', 1);
    await f.waitCluster('b2', (c) => getCondition(c, 'AgentAvailable')?.status === 'True', 'AgentAvailable True');
    await f.client.json({ method: 'PATCH', path: '/apis/cluster.kubesphere.io/v1alpha1/clusters/b2', body: { spec: { connection: { type: 'direct' } } } });
    await f.waitServed('b2', false);
    await assert.rejects(service(f, 'b2'), /not found/i);
    const b2 = await f.waitCluster('b2', (c) => getCondition(c, 'AgentAvailable')?.status === 'False', 'AgentAvailable False');
    assert.equal(getCondition(b2, 'AgentAvailable')?.reason, 'NotServed');
  });
});

describe('cluster controller after a forced 410 Expired on its watches', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await startControllerFixture({ relay: true });
  });
  after(() => f.close());

  it('lists both collections again and carries on', async () => {
    // Both of the controller's watches must be open, or the 410 expires nothing.
    await until(() => f.dc.openWatches() === 2, (check) => {
      const timer = setInterval(check, 10); // the devcluster announces no watch openings
      return () => clearInterval(timer);
    }, 'the controller to watch Clusters and Services');
    const from = f.relay!.requests.length;
    f.dc.compactHistory(); // resuming from the old resourceVersion would get another 410
    f.dc.expireWatches();
    await f.createCluster('after-410');
    await f.waitCluster('after-410', initialized, 'Initialized after a 410');
    const lists = f.relay!.requests.slice(from).flatMap(({ method, path }) => {
      const url = new URL(path, 'http://relay');
      return method === 'GET' && !url.searchParams.has('watch') ? [url.pathname] : [];
    });
    for (const collection of ['/apis/cluster.kubesphere.io/v1alpha1/clusters', `/api/v1/namespaces/${TOWER_NAMESPACE}/services`]) {
      assert.ok(lists.includes(collection), `no list of ${collection} after the 410; GETs seen: ${lists.join(', ')}`);
    }
  });
});

describe('cluster controller (CRD with a status subresource)', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await startControllerFixture({ statusSubresource: true, publishServiceAddress: '127.0.0.1' });
  });
  after(() => f.close());

  it('writes conditions through /status and publishes endpoints on the proxy address', async () => {
    await f.createCluster('alpha');
    const c = await f.waitCluster('alpha', initialized, 'Initialized through /status');
    const port = c.spec!.connection!.kubernetesAPIServerPort!;
    assert.equal(c.spec!.connection!.kubernetesAPIEndpoint, `https://127.0.0.1:${port}`);
    assert.equal(c.spec!.connection!.kubesphereAPIEndpoint, `http://127.0.0.1:${port + 10_000}`);
  });
});
