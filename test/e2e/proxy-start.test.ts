/**
 * A proxy that cannot start changes nothing outside its process: it binds its own port
 * (and so checks its --host) before it reads or writes anything in the host cluster. The
 * Cluster another proxy serves keeps its resourceVersion, no Lease and no Event appear.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CLUSTERS_PATH } from '../../src/kube/cluster-types.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import { freeAgentPort, startKubeStage, type KubeStage } from '../helpers/kube-stage.js';

/** Served by another proxy: its agent is connected (AgentAvailable True). */
const ALPHA = `apiVersion: cluster.kubesphere.io/v1alpha1
kind: Cluster
metadata:
  name: alpha
spec:
  joinFederation: true
  connection:
    type: proxy
    token: 0123456789abcdef0123456789abcdef
    kubernetesAPIServerPort: 6100
    kubesphereAPIServerPort: 16100
    kubernetesAPIEndpoint: https://127.0.0.1:6100
    kubesphereAPIEndpoint: http://127.0.0.1:16100
status:
  conditions:
  - type: Initialized
    status: "True"
    reason: Initialized
    message: Cluster has been initialized
  - type: AgentAvailable
    status: "True"
    reason: AgentConnected
    message: Agent has connected to proxy successfully.
`;

describe('a proxy that fails to start writes nothing', { timeout: 120_000 }, () => {
  let stage: KubeStage;
  let client: KubeClient;
  let squatter: Server;
  let port: number;
  before(async () => {
    stage = await startKubeStage();
    client = KubeClient.fromString(stage.host.adminKubeconfig);
    await stage.kubectl.ok(['create', '-f', '-'], { input: ALPHA });
    port = await freeAgentPort();
    squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  });
  after(async () => {
    squatter?.close();
    await stage?.close();
  });

  const world = async () => {
    const alpha = await stage.getCluster('alpha');
    const leases = await client.json<{ items: unknown[] }>({ method: 'GET', path: '/apis/coordination.k8s.io/v1/namespaces/kubesphere-system/leases' });
    const events = await client.json<{ items: unknown[] }>({ method: 'GET', path: '/api/v1/events' });
    const services = await client.json<{ items: unknown[] }>({ method: 'GET', path: '/api/v1/namespaces/kubesphere-system/services' });
    return {
      resourceVersion: alpha.metadata.resourceVersion,
      agentAvailable: alpha.status?.conditions?.find((c) => c.type === 'AgentAvailable')?.status,
      leases: leases.items.length,
      events: events.items.length,
      services: services.items.length,
    };
  };

  for (const [what, extra, host, message] of [
    ['its agent port is taken', [], undefined, /port \d+ on 127\.0\.0\.1 is already in use; choose another --port/],
    ['its agent port is taken (--leader-elect)', ['--leader-elect'], undefined, /already in use/],
    ['--host is an address this machine does not have', [], '192.0.2.1', /192\.0\.2\.1.*(EADDRNOTAVAIL|not available|cannot assign)/i],
  ] as const) {
    it(`exits 2 with one line when ${what}, and the host cluster is exactly as it was`, async () => {
      const before = await world();
      const proxy = stage.startProxy(port, extra, host ? { host } : {});
      const exit = await proxy.exited;
      assert.equal(exit.code, 2, proxy.output);
      const lines = proxy.output.trim().split('\n').filter((l) => !l.startsWith('{'));
      assert.equal(lines.length, 1, `one plain line: ${proxy.output}`);
      assert.match(lines[0]!, message);
      assert.deepEqual(await world(), before, 'something was written');
      assert.equal(before.agentAvailable, 'True');
      await client.json({ method: 'GET', path: `${CLUSTERS_PATH}/alpha` });
    });
  }
});
