/** Writes retry on Conflict: a stale copy is refreshed and the change applied again. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ClusterWriter } from '../../src/actors/kube/cluster-writer.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { CLUSTERS_PATH, withCondition, type ClusterObject } from '../../src/kube/cluster-types.js';
import { KubeClient } from '../../src/kube/kube-client.js';

const CRD_FILE = new URL('../../../config/crd/cluster.kubesphere.io_clusters.yaml', import.meta.url);

/** A one-object cache, as the Cluster watch keeps. */
function mapStore(object: ClusterObject) {
  const map = new Map([[object.metadata.name, object]]);
  return { get: (name: string) => map.get(name), store: (o: ClusterObject) => void map.set(o.metadata.name, o) };
}

for (const statusSubresource of [false, true]) {
  describe(`ClusterWriter (${statusSubresource ? 'with' : 'without'} a status subresource)`, () => {
    let dc: DevCluster;
    let client: KubeClient;
    before(async () => {
      dc = await startDevCluster({ name: 'host' });
      client = KubeClient.fromString(dc.adminKubeconfig);
      const crd = parse(await readFile(CRD_FILE, 'utf8'));
      if (statusSubresource) crd.spec.versions[0].subresources = { status: {} };
      await client.json({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: crd });
    });
    after(() => dc.stop());

    it('retries a spec and a status write that hit a Conflict', async () => {
      const created = await client.json<ClusterObject>({
        method: 'POST',
        path: CLUSTERS_PATH,
        body: { apiVersion: 'cluster.kubesphere.io/v1alpha1', kind: 'Cluster', metadata: { name: 'c' }, spec: { connection: { type: 'proxy' } } },
      });
      const cache = mapStore(created);
      // Someone else writes after our copy was taken: our copy is now stale.
      await client.json({ method: 'PATCH', path: `${CLUSTERS_PATH}/c`, body: { spec: { provider: 'someone-else' } } });
      let specCalls = 0;
      let statusCalls = 0;
      const writer = new ClusterWriter(client, cache);
      const result = await writer.write(
        'c',
        (c) => {
          specCalls += 1;
          c.spec!.connection!.token = 'abc';
          return ['token'];
        },
        (c) => {
          statusCalls += 1;
          c.status = { conditions: withCondition(c.status?.conditions, 'Initialized', 'True', 'Initialized', 'ok', new Date().toISOString())! };
          return ['conditions'];
        },
      );
      assert.equal(specCalls, 2, 'the spec change was applied again to the fresh copy');
      assert.ok(statusCalls >= 1);
      const stored = await client.json<ClusterObject>({ method: 'GET', path: `${CLUSTERS_PATH}/c` });
      assert.equal(stored.spec?.provider, 'someone-else', 'the other writer\'s change is kept');
      assert.equal(stored.spec?.connection?.token, 'abc');
      assert.equal(stored.status?.conditions?.[0]?.type, 'Initialized');
      assert.equal(result?.metadata.resourceVersion, stored.metadata.resourceVersion);
    });

    it('retries a status-only write that hit a Conflict', async () => {
      const created = await client.json<ClusterObject>({
        method: 'POST',
        path: CLUSTERS_PATH,
        body: { apiVersion: 'cluster.kubesphere.io/v1alpha1', kind: 'Cluster', metadata: { name: 's' }, spec: { connection: { type: 'proxy' } } },
      });
      const cache = mapStore(created);
      await client.json({ method: 'PATCH', path: `${CLUSTERS_PATH}/s`, body: { metadata: { labels: { touched: 'yes' } } } });
      let statusCalls = 0;
      await new ClusterWriter(client, cache).write('s', undefined, (c) => {
        statusCalls += 1;
        c.status = { conditions: withCondition(c.status?.conditions, 'AgentAvailable', 'True', 'AgentConnected', 'ok', new Date().toISOString())! };
        return ['conditions'];
      });
      assert.equal(statusCalls, 2, 'the status change was applied again to the fresh copy');
      const stored = await client.json<ClusterObject>({ method: 'GET', path: `${CLUSTERS_PATH}/s` });
      assert.equal(stored.status?.conditions?.[0]?.status, 'True');
      assert.equal((stored.metadata as { labels?: Record<string, string> }).labels?.['touched'], 'yes');
    });
  });
}
