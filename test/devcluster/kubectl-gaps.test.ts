/**
 * What a user ran through the tunnel and the devcluster did not answer before:
 * `kubectl describe node` (pods by `spec.nodeName`, events by `involvedObject`),
 * `kubectl get endpoints`, `kubectl auth whoami`. And `kubectl explain`, which stays
 * unsupported (no published schemas), failing as the README says.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './helpers.js';
import type { Harness } from './helpers.js';

describe('kubectl commands that need more than CRUD', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ name: 'gaps' });
  });
  after(() => h.close());

  it('describe node lists the pods bound to it and its events', async () => {
    const pod = await h.file(
      'pod.yaml',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  nodeName: gaps-worker\n  containers: [{name: web, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}}}]\n',
    );
    await h.ok(['create', '-f', pod]);
    const other = await h.file('other.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: elsewhere, namespace: default}\nspec:\n  nodeName: gaps-worker2\n  containers: [{name: c, image: busybox}]\n');
    await h.ok(['create', '-f', other]);
    // describe asks for the node's events by kind, name and uid.
    const uid = await h.ok(['get', 'node', 'gaps-worker', '-o', 'jsonpath={.metadata.uid}']);
    const event = await h.file(
      'event.yaml',
      `apiVersion: v1\nkind: Event\nmetadata: {name: gaps-worker.1, namespace: default}\ninvolvedObject: {kind: Node, name: gaps-worker, uid: ${uid}, apiVersion: v1}\nreason: NodeReady\nmessage: Node gaps-worker status is now NodeReady\ntype: Normal\n`,
    );
    await h.ok(['create', '-f', event]);

    const out = await h.ok(['describe', 'node', 'gaps-worker']);
    assert.match(out, /^Name:\s+gaps-worker$/m);
    assert.match(out, /Non-terminated Pods:\s+\(1 in total\)/);
    assert.match(out, /^\s+default\s+web\s+100m \(2%\)/m, out);
    assert.doesNotMatch(out, /elsewhere/);
    assert.match(out, /Events:[\s\S]*NodeReady/);

    const onWorker = await h.ok(['get', 'pods', '-A', '--field-selector', 'spec.nodeName=gaps-worker2', '-o', 'name']);
    assert.equal(onWorker.trim(), 'pod/elsewhere');
    const bad = await h.kubectl(['get', 'pods', '--field-selector', 'spec.bogus=1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /"spec.bogus" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.nodeName"/);
  });

  it('get endpoints: the kubernetes Service\'s own, and what clients create', async () => {
    const out = await h.ok(['get', 'endpoints', '-n', 'default']);
    assert.match(out, /^NAME\s+ENDPOINTS\s+AGE\nkubernetes\s+127\.0\.0\.1:\d+\s+\d+s\n/, out);
    const ep = await h.file('ep.yaml', 'apiVersion: v1\nkind: Endpoints\nmetadata: {name: db, namespace: default}\nsubsets:\n- addresses: [{ip: 10.0.0.7}, {ip: 10.0.0.8}]\n  ports: [{port: 5432}]\n');
    assert.match(await h.ok(['apply', '-f', ep]), /endpoints\/db created/);
    assert.match(await h.ok(['get', 'ep', 'db']), /\ndb\s+10\.0\.0\.7:5432,10\.0\.0\.8:5432\s+\d+s\n/);
  });

  it('auth whoami names the user of the kubeconfig', async () => {
    const out = await h.ok(['auth', 'whoami']);
    assert.match(out, /^ATTRIBUTE\s+VALUE\nUsername\s+\S+\nGroups\s+\[system:masters system:authenticated\]\n$/);
  });

  it('explain is not supported (no published schemas), as the README lists', async () => {
    const r = await h.kubectl(['explain', 'pods']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found in OpenAPI schema/);
  });
});
