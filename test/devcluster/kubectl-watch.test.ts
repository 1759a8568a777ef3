/** kubectl's watch-driven commands: `get --watch` and `wait` for a condition that arrives later. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WIDGET_CRD, eventually, startHarness } from './helpers.js';
import type { Harness } from './helpers.js';

describe('kubectl watches', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ name: 'watch' });
    await h.ok(['apply', '-f', await h.file('crd.yaml', WIDGET_CRD)]);
    await h.ok(['create', '-f', await h.file('w.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 1}\n')]);
  });
  after(() => h.close());

  it('kubectl get --watch prints the current row, then a row per update', async () => {
    const watch = h.spawnKubectl(['get', 'widgets', '--watch']);
    await watch.waitFor(/w1\s+1\s+\s+\d+s\n/);
    await h.ok(['patch', 'widget', 'w1', '--type', 'merge', '-p', '{"spec":{"size":42}}']);
    const out = await watch.waitFor(/w1\s+42\s+/);
    assert.match(out, /^NAME\s+SIZE\s+PHASE\s+AGE\n/);
    watch.child.kill('SIGTERM');
  });

  it('kubectl get --watch -o name on a built-in kind sees a new object', async () => {
    const watch = h.spawnKubectl(['get', 'configmaps', '--watch', '-o', 'name']);
    await watch.waitFor(/configmap\/kube-root-ca.crt\n/);
    await h.ok(['create', 'configmap', 'late-arrival']);
    await watch.waitFor(/configmap\/late-arrival\n/);
    watch.child.kill('SIGTERM');
  });

  it('kubectl wait returns once a status condition is set later', async () => {
    await eventually(() => h.cluster.openWatches() === 0, 'the earlier kubectl watches to close');
    const waiting = h.kubectl(['wait', '--for=condition=Ready', '--timeout=20s', 'widget/w1']);
    // Set the condition only once kubectl watches: had it read the condition with its first
    // GET, the watch path would go untested.
    await Promise.race([
      eventually(() => h.cluster.openWatches() === 1, 'kubectl wait to open its watch'),
      waiting.then((r) => assert.fail(`kubectl wait exited (${r.code}) before it watched: ${r.stdout}${r.stderr}`)),
    ]);
    await h.ok([
      'patch', 'widget', 'w1', '--subresource', 'status', '--type', 'merge',
      '-p', '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Done","message":"","lastTransitionTime":"2025-01-01T00:00:00Z"}]}}',
    ]);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /widget.example.com\/w1 condition met/);
  });
});
