/** The real kubectl against a devcluster: nodes, namespaces, services, configmaps and secrets. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './helpers.js';
import type { Harness } from './helpers.js';

describe('kubectl with built-in kinds', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ name: 'core' });
  });
  after(() => h.close());

  it('lists seeded nodes like a real cluster: STATUS Ready, ROLES, VERSION', async () => {
    const out = await h.ok(['get', 'nodes']);
    assert.match(out, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
    assert.match(out, /\ncore-control-plane\s+Ready\s+control-plane\s+\d+s\s+v1\.32\.\d+\n/);
    assert.match(out, /\ncore-worker\s+Ready\s+worker\s+\d+s\s+v1\.32\.\d+\n/);
    assert.match(await h.ok(['get', 'nodes', '-o', 'wide']), /INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME/);
  });

  it('patches, cordons and deletes a node', async () => {
    await h.ok(['label', 'node', 'core-worker2', 'zone=a']);
    assert.equal(await h.ok(['get', 'node', '-l', 'zone=a', '-o', 'jsonpath={.items[*].metadata.name}']), 'core-worker2');
    await h.ok(['cordon', 'core-worker2']);
    assert.match(await h.ok(['get', 'node', 'core-worker2']), /Ready,SchedulingDisabled/);
    assert.match(await h.ok(['delete', 'node', 'core-worker2']), /node "core-worker2" deleted/);
    assert.doesNotMatch(await h.ok(['get', 'nodes', '-o', 'name']), /core-worker2/);
  });

  it('seeds the system namespaces and creates one (protobuf body), applies, and deletes with its content', async () => {
    const seeded = await h.ok(['get', 'ns', '-o', 'name']);
    for (const ns of ['default', 'kube-system', 'kube-public', 'kubesphere-system']) assert.match(seeded, new RegExp(`namespace/${ns}\\n`));
    assert.match(await h.ok(['create', 'namespace', 'team-a']), /namespace\/team-a created/);
    assert.match(await h.ok(['get', 'ns', 'team-a']), /^NAME\s+STATUS\s+AGE\nteam-a\s+Active\s+\d+s\n$/);
    const file = await h.file('ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {owner: me}}\n');
    assert.match(await h.ok(['apply', '-f', file]), /namespace\/team-a configured/);
    assert.equal(await h.ok(['get', 'ns', 'team-a', '-o', 'jsonpath={.metadata.labels.owner}']), 'me');

    await h.ok(['-n', 'team-a', 'create', 'configmap', 'settings', '--from-literal=color=blue']);
    await h.ok(['-n', 'team-a', 'create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret']);
    assert.equal(await h.ok(['-n', 'team-a', 'get', 'cm', 'settings', '-o', 'jsonpath={.data.color}']), 'blue');
    assert.equal(await h.ok(['-n', 'team-a', 'get', 'secret', 'creds', '-o', 'jsonpath={.type} {.data.password}']), `Opaque ${Buffer.from('s3cret').toString('base64')}`);
    // the namespace controller's defaults appear too
    await h.ok(['-n', 'team-a', 'get', 'serviceaccount', 'default']);

    assert.match(await h.ok(['delete', 'namespace', 'team-a']), /namespace "team-a" deleted/);
    const r = await h.kubectl(['get', 'ns', 'team-a']);
    assert.match(r.stderr, /namespaces "team-a" not found/);
    const inside = await h.kubectl(['-n', 'team-a', 'create', 'configmap', 'late']);
    assert.match(inside.stderr, /namespaces "team-a" not found/);
  });

  it('creates services with allocated ClusterIPs, merges ports by port on apply, and writes LoadBalancer status', async () => {
    const file = await h.file(
      'svc.yaml',
      'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n  - {name: https, port: 443, targetPort: 8443}\n',
    );
    assert.match(await h.ok(['apply', '-f', file]), /service\/web created/);
    const ip = await h.ok(['get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}']);
    assert.match(ip, /^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
    assert.match(await h.ok(['get', 'svc', 'web']), /web\s+LoadBalancer\s+10\.\S+\s+<pending>\s+80:\d+\/TCP,443:\d+\/TCP\s+\d+s/);

    // apply sends a strategic merge patch: list items merge on `port`
    await h.file('svc.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n  - {name: https, port: 443, targetPort: 9443}\n');
    assert.match(await h.ok(['apply', '-f', file]), /service\/web configured/);
    assert.equal(await h.ok(['get', 'svc', 'web', '-o', 'jsonpath={range .spec.ports[*]}{.port}>{.targetPort} {end}']), '80>8080 443>9443 ');
    // a strategic merge patch that names one port leaves the other alone
    await h.ok(['patch', 'svc', 'web', '-p', '{"spec":{"ports":[{"port":80,"targetPort":8081}]}}']);
    assert.equal(await h.ok(['get', 'svc', 'web', '-o', 'jsonpath={range .spec.ports[*]}{.port}>{.targetPort} {end}']), '80>8081 443>9443 ');
    assert.equal(await h.ok(['get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}']), ip, 'the ClusterIP is kept');

    await h.ok(['patch', 'svc', 'web', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}}']);
    assert.match(await h.ok(['get', 'svc', 'web']), /web\s+LoadBalancer\s+10\.\S+\s+192\.0\.2\.10\s+/);

    assert.match(await h.ok(['create', 'service', 'clusterip', 'plain', '--tcp=5678:8080']), /service\/plain created/);
    assert.match(await h.ok(['get', 'svc', 'plain']), /plain\s+ClusterIP\s+10\.\S+\s+<none>\s+5678\/TCP/);
    assert.match(await h.ok(['delete', 'svc', 'web', 'plain']), /service "web" deleted\nservice "plain" deleted/);
  });
});
