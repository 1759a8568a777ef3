/**
 * Every permission the host manifests grant the proxy is needed: for each verb of each
 * rule, a fresh host gets the manifests without it, the proxy runs as its Deployment
 * through the seed flow, and the apiserver refuses (403) exactly that request — read from
 * the devcluster's record of denied requests, since a refused best-effort write need not
 * stop the flow. The flow stops at the refusal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HostRig } from './host-rig.js';
import { HostFlow, NAMESPACE } from './host-flow.js';
import { render } from './manifests.js';
import { covers, describeGrant, grantsOf, withoutGrant, type Grant } from './grants.js';
import { canRunPods } from './pod/can-run-pods.js';

const skip = await canRunPods();
const objects = skip ? [] : await render('host/base');
const grants = skip ? [] : grantsOf(objects, { namespace: NAMESPACE, name: 'tower' });

/** Run the flow on manifests without `grant` until the apiserver refuses what it covered. */
async function refusedWithout(grant: Grant): Promise<{ refused: boolean; proxyLog: string; requested: boolean }> {
  const rig = await HostRig.install(withoutGrant(objects, grant));
  try {
    const flow = new HostFlow(rig);
    const refusal = rig.record((r) => r.user === rig.proxyUser && !r.allowed && covers(grant, r), `a refused ${describeGrant(grant)}`, 90_000);
    refusal.catch(() => undefined);
    const steps = [() => flow.start(), () => flow.createCluster('alpha'), () => flow.deleteCluster('alpha'), () => flow.stop()];
    for (const step of steps) {
      const outcome = await Promise.race([step().then(() => 'done' as const), refusal.then(() => 'refused' as const)]);
      if (outcome === 'refused') break;
    }
    const requested = rig.proxyRecords().some((r) => covers(grant, r));
    const mine = rig.proxyRecords().filter((r) => covers(grant, r));
    return { refused: mine.some((r) => !r.allowed), requested: mine.length > 0, proxyLog: flow.proxy?.container.child.tail(20) ?? '' };
  } finally {
    // A refused proxy may be stuck starting; its graceful exit is not what this test is about.
    await rig.close(3000);
  }
}

describe('each permission of the host manifests is needed: without it the proxy is refused (403)', { skip }, () => {
  for (const grant of grants) {
    it(`without ${describeGrant(grant)}`, { timeout: 120_000 }, async (t) => {
      const { refused, requested, proxyLog } = await refusedWithout(grant);
      if (!requested && grant.rule.resources.includes('events')) {
        t.todo('bin/proxy records no Events yet (contract: the lead adds them); nothing asked for this permission');
        return;
      }
      assert.ok(refused, `the flow never asked for ${describeGrant(grant)}; proxy log:\n${proxyLog}`);
    });
  }
});
