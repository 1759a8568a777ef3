/**
 * Every permission the host manifests grant the proxy is needed: for each verb of each
 * rule, a fresh host gets the manifests without it, the proxy runs as its Deployment
 * through the seed flow, and the apiserver refuses (403) exactly that request — read from
 * the devcluster's record of denied requests, since a refused best-effort write need not
 * stop the flow. The flow stops at the refusal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeWithTool } from '../helpers/external-tool.js';
import { HostRig } from './host-rig.js';
import { HostFlow, NAMESPACE } from './host-flow.js';
import { render, renderWithComponents, type Manifest } from './manifests.js';
import { covers, describeGrant, grantsOf, withoutGrant, type Grant } from './grants.js';
import { canRunPods } from './pod/can-run-pods.js';

const skip = await canRunPods();
const objects = skip ? [] : await render('host/base');
const grants = skip ? [] : grantsOf(objects, { namespace: NAMESPACE, name: 'tower' });

/**
 * Run the flow on `manifests` until the apiserver refuses what `grant` covers (or to the
 * end): whether it was refused, whether it was asked for at all, the proxy's last lines.
 */
async function runRefusing(
  grant: Grant,
  manifests: readonly Manifest[],
  crd?: readonly Manifest[],
): Promise<{ refused: boolean; proxyLog: string; requested: boolean }> {
  const rig = await HostRig.install(manifests, crd);
  try {
    const flow = new HostFlow(rig);
    const refusal = rig.record(
      (r) => r.user === rig.proxyUser && !r.allowed && covers(grant, r),
      `a refused ${describeGrant(grant)}`,
      90_000,
    );
    refusal.catch(() => undefined);
    const steps = [
      () => flow.start(),
      () => flow.createCluster('alpha'),
      () => flow.badPortCluster('beta'), // an Event
      () => flow.deleteCluster('alpha'),
      () => flow.stop(),
    ];
    for (const step of steps) {
      const outcome = await Promise.race([step().then(() => 'done' as const), refusal.then(() => 'refused' as const)]);
      if (outcome === 'refused') break;
    }
    const mine = rig.proxyRecords().filter((r) => covers(grant, r));
    return { refused: mine.some((r) => !r.allowed), requested: mine.length > 0, proxyLog: flow.proxy?.container.child.tail(20) ?? '' };
  } finally {
    // A refused proxy may be stuck starting; its graceful exit is not what this test is about.
    await rig.close(3000);
  }
}

// Each case has its own cluster, pod namespaces and files: three at a time.
describeWithTool(
  'each permission of the host manifests is needed: without it the proxy is refused (403)',
  skip,
  () => {
    for (const grant of grants) {
      it(`without ${describeGrant(grant)}`, { timeout: 120_000 }, async (t) => {
        const { refused, proxyLog } = await runRefusing(grant, withoutGrant(objects, grant));
        assert.ok(refused, `the flow never asked for ${describeGrant(grant)}; proxy log:\n${proxyLog}`);
      });
    }
  },
  { concurrency: 3 },
);

describeWithTool(
  'with a Cluster CRD that has the status subresource, components/status-subresource grants what the proxy then needs',
  skip,
  () => {
    it('uses clusters/status with the component, and is refused without it', { timeout: 120_000 }, async () => {
      const withStatus = await renderWithComponents('host/base', ['host/components/status-subresource']);
      const crd = structuredClone(await render('crd'));
      for (const v of (crd[0]?.['spec'] as { versions: Array<Record<string, unknown>> }).versions) v['subresources'] = { status: {} };
      const grant = grantsOf(withStatus, { namespace: NAMESPACE, name: 'tower' }).find((g) => g.rule.resources.includes('clusters/status'));
      assert.ok(grant, 'the component adds update on clusters/status');
      const granted = await runRefusing(grant, withStatus, crd);
      assert.deepEqual(
        [granted.requested, granted.refused],
        [true, false],
        `granted: asked for and allowed; proxy log:\n${granted.proxyLog}`,
      );
      const without = await runRefusing(grant, withoutGrant(withStatus, grant), crd);
      assert.ok(without.refused, `refused without the component's rule; proxy log:\n${without.proxyLog}`);
    });
  },
);
