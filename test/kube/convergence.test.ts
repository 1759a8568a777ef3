/**
 * A reconcile that finds nothing to change writes nothing: with agents connected and
 * kubeconfigs issued, whatever the CA's remaining lifetime, a user's edit to an unrelated
 * field and a relist of every watch make no write at all; a restart of the controller
 * writes nothing but, when the CA is in its last month, one Event per cluster saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getCondition, type ClusterObject } from '../../src/kube/cluster-types.js';
import { CLUSTERS_PATH } from '../../src/kube/cluster-types.js';
import type { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { until } from '../helpers/wait.js';
import { startControllerFixture, type ControllerFixture } from './controller-fixture.js';

/** Every write the controller counted, as `resource/cluster/reason` → count. */
async function writes(metrics: ProxyMetrics): Promise<Map<string, number>> {
  const counted = new Map<string, number>();
  for (const v of (await metrics.writes.get()).values) counted.set(`${v.labels.resource}/${v.labels.cluster}/${v.labels.reason}`, v.value);
  return counted;
}

function delta(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after].filter(([k, v]) => v !== (before.get(k) ?? 0)).map(([k, v]) => `${k} +${v - (before.get(k) ?? 0)}`);
}

const served = (c: ClusterObject) => getCondition(c, 'AgentAvailable')?.status === 'True' && Boolean(c.spec?.connection?.kubeconfig);

for (const days of [20, 365, 3650]) {
  describe(`steady state with a proxy CA of ${days} days left`, () => {
    let f: ControllerFixture;
    before(async () => {
      // A restarted controller gives agents their usual time to come back.
      f = await startControllerFixture({ caValidityDays: days, agentGraceMs: 60_000 });
      await Promise.all(['one', 'two'].map((name) => f.createCluster(name)));
      for (const name of ['one', 'two']) {
        await f.waitServed(name, true);
        f.controller.agentsChanged(name, 1); // an agent each, as the proxy reports
      }
      await Promise.all(['one', 'two'].map((name) => f.waitCluster(name, served, 'AgentAvailable and a kubeconfig')));
      await f.controller.idle();
    });
    after(() => f.close());

    it('writes nothing while nothing changes: an unrelated edit, a forced relist, a controller restart', async () => {
      const start = await writes(f.metrics);
      const reconciles = f.controller.reconciles;
      const stored = await f.getCluster('one');

      // A user edits a field the proxy does not own: the watch delivers it, the controller looks again.
      await f.client.json({ method: 'PATCH', path: `${CLUSTERS_PATH}/one`, body: { spec: { provider: 'edited-by-a-user' } } });
      await f.waitCluster('one', (c) => c.spec?.provider === 'edited-by-a-user', 'the edit');
      await waitReconciled(f, reconciles + 1);
      await f.controller.idle();

      // Every watch lists again (410): every cluster is reconciled once more.
      const beforeRelist = f.controller.reconciles;
      f.dc.expireWatches();
      await waitReconciled(f, beforeRelist + 2);
      await f.controller.idle();

      assert.ok(f.controller.reconciles > reconciles, 'the controller never looked again');
      const changes = delta(start, await writes(f.metrics));
      assert.deepEqual(changes, [], `writes in a steady state: ${changes.join(', ')}`);

      // A restarted controller (the proxy restarted) keeps everything as it is; a new
      // process says once per cluster that the CA is about to expire, and nothing else.
      const beforeRestart = await writes(f.metrics);
      await f.restartController();
      for (const name of ['one', 'two']) f.controller.agentsChanged(name, 1);
      await f.controller.idle();
      assert.ok(f.controller.reconciles >= 2, 'the restarted controller did not reconcile');
      const expected = days < 30 ? ['event/one/CAExpiring +1', 'event/two/CAExpiring +1'] : [];
      assert.deepEqual(delta(beforeRestart, await writes(f.metrics)).sort(), expected);
      const now = await f.getCluster('one');
      assert.equal(now.spec?.connection?.kubeconfig, stored.spec?.connection?.kubeconfig, 'the kubeconfig was reissued');
    });
  });
}

/** Wait (bounded) until `n` reconciles were done. */
function waitReconciled(f: ControllerFixture, n: number): Promise<void> {
  return until(() => f.controller.reconciles >= n, (onChange) => f.controller.onReconciled(onChange), `${n} reconciles`);
}
