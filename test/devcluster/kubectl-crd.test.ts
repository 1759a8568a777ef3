/** The real kubectl against a devcluster: CRDs and custom resources, namespaced and cluster-scoped. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { CLUSTER_CRD, WIDGET_CRD, startHarness } from './helpers.js';
import type { Harness } from './helpers.js';

describe('kubectl with custom resources', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ name: 'crd' });
    await h.ok(['create', 'namespace', 'demo']);
  });
  after(() => h.close());

  it('creates a CRD from a file and waits for Established', async () => {
    const crd = await h.file('crd.yaml', WIDGET_CRD);
    assert.match(await h.ok(['create', '-f', crd]), /customresourcedefinition.apiextensions.k8s.io\/widgets.example.com created/);
    assert.match(await h.ok(['wait', '--for=condition=Established', '--timeout=10s', 'crd/widgets.example.com']), /condition met/);
    assert.match(await h.ok(['api-resources', '--api-group=example.com']), /widgets\s+wg\s+example.com\/v1\s+true\s+Widget/);
  });

  it('creates, lists, gets and prints printer columns of a custom resource', async () => {
    const w = await h.file('w1.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, labels: {tier: gold}}\nspec: {size: 3}\nstatus: {phase: Ignored}\n');
    assert.match(await h.ok(['-n', 'demo', 'create', '-f', w]), /widget.example.com\/w1 created/);
    const table = await h.ok(['-n', 'demo', 'get', 'widgets']);
    assert.match(table, /^NAME\s+SIZE\s+PHASE\s+AGE\n/);
    assert.match(table, /\nw1\s+3\s+\d+s\n/, 'status is not written on create when the status subresource is declared');
    assert.match(await h.ok(['-n', 'demo', 'get', 'wg', '-l', 'tier=gold', '-o', 'name']), /^widget.example.com\/w1\n$/);
    assert.equal(await h.ok(['-n', 'demo', 'get', 'wg', '-l', 'tier=silver', '-o', 'name']), '');
    const jp = await h.ok(['-n', 'demo', 'get', 'widget', 'w1', '-o', 'jsonpath={.spec.size}/{.metadata.generation}/{.metadata.uid}']);
    assert.match(jp, /^3\/1\/[0-9a-f-]{36}$/);
  });

  it('patches with --type merge and through the status subresource; generation follows spec only', async () => {
    assert.match(await h.ok(['-n', 'demo', 'patch', 'widget', 'w1', '--type', 'merge', '-p', '{"spec":{"size":5}}']), /patched/);
    assert.match(await h.ok(['-n', 'demo', 'patch', 'widget', 'w1', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"phase":"Ready"}}']), /patched/);
    assert.equal(await h.ok(['-n', 'demo', 'get', 'widget', 'w1', '-o', 'jsonpath={.spec.size} {.status.phase} {.metadata.generation}']), '5 Ready 2');
    const r = await h.kubectl(['-n', 'demo', 'patch', 'widget', 'w1', '--type', 'strategic', '-p', '{"spec":{"size":6}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /UnsupportedMediaType|unknown format|not supported/i);
  });

  it('applies, updates like edit (replace), and rejects a stale update with Conflict', async () => {
    const applied = await h.file('w2.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2, namespace: demo}\nspec: {size: 1}\n');
    assert.match(await h.ok(['apply', '-f', applied]), /widget.example.com\/w2 created/);
    assert.match(await h.ok(['apply', '-f', applied]), /widget.example.com\/w2 unchanged/);
    await h.file('w2.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2, namespace: demo}\nspec: {size: 2, color: red}\n');
    assert.match(await h.ok(['apply', '-f', applied]), /widget.example.com\/w2 configured/);

    // Edit-style: read, change, PUT back with the resourceVersion read.
    const current = YAML.parse(await h.ok(['-n', 'demo', 'get', 'widget', 'w2', '-o', 'yaml'])) as { spec: { size: number } };
    current.spec.size = 10;
    const edited = await h.file('w2-edited.yaml', YAML.stringify(current));
    assert.match(await h.ok(['replace', '-f', edited]), /widget.example.com\/w2 replaced/);
    assert.equal(await h.ok(['-n', 'demo', 'get', 'widget', 'w2', '-o', 'jsonpath={.spec.size} {.spec.color}']), '10 red');

    // The same file again carries a now-stale resourceVersion.
    const stale = await h.kubectl(['replace', '-f', edited]);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /Conflict.*the object has been modified; please apply your changes to the latest version and try again/);
  });

  it('deletes a custom resource, and one with a finalizer only once the finalizer is removed', async () => {
    assert.match(await h.ok(['-n', 'demo', 'delete', 'widget', 'w2']), /widget.example.com "w2" deleted/);
    await h.ok(['-n', 'demo', 'patch', 'widget', 'w1', '--type', 'merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}']);
    await h.ok(['-n', 'demo', 'delete', 'widget', 'w1', '--wait=false']);
    assert.match(await h.ok(['-n', 'demo', 'get', 'widget', 'w1', '-o', 'jsonpath={.metadata.deletionTimestamp}']), /^\d{4}-\d\d-\d\dT/);
    await h.ok(['-n', 'demo', 'patch', 'widget', 'w1', '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    const gone = await h.kubectl(['-n', 'demo', 'get', 'widget', 'w1']);
    assert.match(gone.stderr, /NotFound.*widgets.example.com "w1" not found/);
  });

  it('creates a cluster-scoped custom resource with -n (namespace dropped) and deletes its CRD', async () => {
    await h.ok(['apply', '-f', await h.file('cluster-crd.yaml', CLUSTER_CRD)]);
    const member = await h.file('member.yaml', 'apiVersion: cluster.kubesphere.io/v1alpha1\nkind: Cluster\nmetadata: {name: member1}\nspec: {connection: {type: proxy}}\n');
    assert.match(await h.ok(['-n', 'kubesphere-system', 'create', '-f', member]), /cluster.cluster.kubesphere.io\/member1 created/);
    assert.equal(await h.ok(['get', 'clusters.cluster.kubesphere.io', 'member1', '-o', 'jsonpath={.metadata.namespace}|{.spec.connection.type}']), '|proxy');
    assert.match(await h.ok(['get', 'clusters']), /^NAME\s+AGE\nmember1\s+\d+s\n$/);
    await h.ok(['delete', 'crd', 'clusters.cluster.kubesphere.io']);
    const r = await h.kubectl(['get', 'clusters.cluster.kubesphere.io']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /doesn't have a resource type/);
  });
});
