/**
 * Ports you can trust, with the proxy and its controller on a devcluster: a port that is
 * not a port, the agent port, another cluster's port or one another process holds is
 * reported on the Cluster (ListenersReady False, a reason, a Warning Event), never bound
 * as something else (a string is not a pipe path), never retried in a loop of writes or
 * log lines; ports the proxy chose and finds taken are chosen again, once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { startKubeProxy, type KubeProxy } from '../../src/actors/proxy/start-kube-proxy.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { CLUSTERS_PATH, getCondition, type ClusterObject } from '../../src/kube/cluster-types.js';
import { ALLOCATED_PORTS_ANNOTATION } from '../../src/kube/cluster-plan.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import { createSelfSignedCa, type CaPem } from '../../src/pki/index.js';
import { freePort } from '../helpers/free-port.js';
import { until } from '../helpers/wait.js';

const CRD_FILE = new URL('../../../config/crd/cluster.kubesphere.io_clusters.yaml', import.meta.url);

describe('ports you can trust', { timeout: 120_000 }, () => {
  let dc: DevCluster;
  let client: KubeClient;
  let ca: CaPem;
  let proxy: KubeProxy;
  const logLines: string[] = [];

  const start = () =>
    startKubeProxy({
      client,
      ca,
      host: '127.0.0.1',
      port: 0,
      publishServiceAddress: '127.0.0.1',
      pkiMode: 'inline',
      logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
    });
  const get = (name: string) => client.json<ClusterObject>({ method: 'GET', path: `${CLUSTERS_PATH}/${name}` });
  const create = (name: string, connection: Record<string, unknown>) =>
    client.json({
      method: 'POST',
      path: CLUSTERS_PATH,
      body: { apiVersion: 'cluster.kubesphere.io/v1alpha1', kind: 'Cluster', metadata: { name }, spec: { joinFederation: true, connection: { type: 'proxy', token: `t-${name}`, ...connection } } },
    });
  /** Wait (bounded, on the proxy's reconciles) until cluster `name` satisfies `check`. */
  const waitFor = async (name: string, check: (c: ClusterObject) => boolean, what: string, timeoutMs = 15_000) => {
    let latest: ClusterObject | undefined;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      latest = await get(name);
      if (check(latest)) return latest;
      const controller = proxy.controller;
      if (controller) await until(() => false, (f) => controller.onReconciled(f), 'a reconcile', 1_000).catch(() => undefined);
    }
    throw new Error(`cluster ${name}: ${what} not reached; last: ${JSON.stringify(latest?.status)}`);
  };
  const listeners = (c: ClusterObject) => getCondition(c, 'ListenersReady');
  const writes = async () => (await proxy.server.metrics.writes.get()).values.reduce((n, v) => n + v.value, 0);

  before(async () => {
    dc = await startDevCluster({ name: 'host' });
    client = KubeClient.fromString(dc.adminKubeconfig);
    await client.json({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: parse(await readFile(CRD_FILE, 'utf8')) });
    ca = await createSelfSignedCa();
    proxy = await start();
  });
  after(async () => {
    await proxy?.stop();
    await dc?.stop();
  });

  for (const [name, value] of [
    ['too-big', 70_000],
    ['negative', -1],
    ['fraction', 6000.5],
    ['abc', 'abc'],
  ] as const) {
    it(`kubernetesAPIServerPort ${JSON.stringify(value)}: InvalidPort on the Cluster, nothing bound, no loop`, async () => {
      await create(`bad-${name}`, { kubernetesAPIServerPort: value, kubesphereAPIServerPort: 16999 });
      const c = await waitFor(`bad-${name}`, (x) => listeners(x)?.status === 'False', 'ListenersReady False');
      assert.equal(listeners(c)?.reason, 'InvalidPort');
      assert.match(listeners(c)?.message ?? '', /kubernetesAPIServerPort/);
      assert.equal(proxy.controller?.snapshot().has(`bad-${name}`), false, 'served anyway');
      assert.equal(existsSync('abc'), false, 'a UNIX socket named abc appeared in the working directory');
      const events = await client.json<{ items: Array<{ reason: string; involvedObject: { name: string } }> }>({ method: 'GET', path: '/api/v1/namespaces/default/events' });
      assert.ok(events.items.some((e) => e.reason === 'InvalidPort' && e.involvedObject.name === `bad-${name}`), 'no Warning Event');
      // Settled: more reconciles write nothing and log nothing.
      const [writesBefore, linesBefore] = [await writes(), logLines.length];
      await client.json({ method: 'PATCH', path: `${CLUSTERS_PATH}/bad-${name}`, body: { metadata: { labels: { poke: 'yes' } } }, contentType: 'application/merge-patch+json' });
      await waitFor(`bad-${name}`, () => true, 'a reconcile');
      await proxy.controller!.idle();
      assert.equal(await writes(), writesBefore, 'a write in a steady state');
      assert.deepEqual(logLines.slice(linesBefore).filter((l) => /InvalidPort|kubernetesAPIServerPort/.test(l)), [], 'logged again');
    });
  }

  it("another cluster's ports: the younger cluster gets PortConflict, the older keeps serving", async () => {
    const [kube, ks] = [await freePort(), await freePort()];
    await create('first', { kubernetesAPIServerPort: kube, kubesphereAPIServerPort: ks });
    await waitFor('first', (c) => listeners(c)?.status === 'True', 'first listening');
    await create('second', { kubernetesAPIServerPort: kube, kubesphereAPIServerPort: ks });
    const second = await waitFor('second', (c) => listeners(c)?.status === 'False', 'second refused');
    assert.equal(listeners(second)?.reason, 'PortConflict');
    assert.match(listeners(second)?.message ?? '', /already used by cluster first/);
    assert.equal(listeners(await get('first'))?.status, 'True');
  });

  it('a port a user set and another process holds: PortInUse, retried, served once it is free', async () => {
    const [kube, ks] = [await freePort(), await freePort()];
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(kube, '127.0.0.1', resolve));
    await create('held', { kubernetesAPIServerPort: kube, kubesphereAPIServerPort: ks });
    const held = await waitFor('held', (c) => listeners(c)?.status === 'False', 'PortInUse');
    assert.equal(listeners(held)?.reason, 'PortInUse');
    assert.equal(held.spec?.connection?.kubernetesAPIServerPort, kube, "a user's port is not changed");
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    const freed = await waitFor('held', (c) => listeners(c)?.status === 'True', 'listening once free', 20_000);
    assert.equal(freed.spec?.connection?.kubernetesAPIServerPort, kube);
  });

  it('ports the proxy chose and finds taken are chosen again, once', async () => {
    await create('chosen', {});
    const first = await waitFor('chosen', (c) => listeners(c)?.status === 'True', 'listening');
    const kube = first.spec!.connection!.kubernetesAPIServerPort!;
    assert.equal(first.metadata.annotations?.[ALLOCATED_PORTS_ANNOTATION], `${kube},${first.spec!.connection!.kubesphereAPIServerPort}`);
    // The proxy restarts and finds its port taken by someone else meanwhile.
    await proxy.stop();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(kube, '127.0.0.1', resolve));
    try {
      proxy = await start();
      const moved = await waitFor('chosen', (c) => c.spec?.connection?.kubernetesAPIServerPort !== kube && listeners(c)?.status === 'True', 'new ports', 20_000);
      const newPort = moved.spec!.connection!.kubernetesAPIServerPort!;
      assert.notEqual(newPort, kube);
      assert.equal(moved.metadata.annotations?.[ALLOCATED_PORTS_ANNOTATION], `${newPort},${moved.spec!.connection!.kubesphereAPIServerPort}`);
      assert.equal(moved.spec?.connection?.kubernetesAPIEndpoint, `https://127.0.0.1:${newPort}`, 'the endpoint follows');
    } finally {
      squatter.close();
    }
  });
});
