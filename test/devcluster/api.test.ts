/** API semantics at the HTTP level: discovery, OpenAPI, CRUD rules, selectors, Status errors and limits. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { startDevCluster } from '../../devcluster/index.js';
import type { DevCluster } from '../../devcluster/index.js';
import { call } from './http-client.js';
import { CLUSTER_CRD, WIDGET_CRD } from './helpers.js';

type Obj = { kind?: string; apiVersion?: string; metadata: Record<string, unknown>; [k: string]: unknown };
const WIDGETS = '/apis/example.com/v1/namespaces/default/widgets';
const json = (v: unknown): string => JSON.stringify(v);

describe('devcluster API semantics', () => {
  let c: DevCluster;
  before(async () => {
    c = await startDevCluster({ name: 'api' });
  });
  after(() => c.stop());

  it('serves a CRD in discovery and OpenAPI as soon as its create returns', async () => {
    const before = await call(c, 'GET', '/apis/example.com/v1');
    assert.equal(before.status, 404);
    const created = await call(c, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: json(YAML.parse(WIDGET_CRD)), contentType: 'application/json' });
    assert.equal(created.status, 201);
    const crd = created.json as { status: { conditions: { type: string; status: string }[] } };
    assert.deepEqual(crd.status.conditions.map((x) => `${x.type}=${x.status}`).sort(), ['Established=True', 'NamesAccepted=True']);

    const list = (await call(c, 'GET', '/apis/example.com/v1')).json as { resources: { name: string; namespaced: boolean; kind: string }[] };
    assert.deepEqual(list.resources.map((r) => r.name), ['widgets', 'widgets/status']);
    const groups = (await call(c, 'GET', '/apis')).json as { groups: { name: string }[] };
    assert.ok(groups.groups.some((g) => g.name === 'example.com'));

    const agg = await call(c, 'GET', '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
    assert.equal(agg.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const items = (agg.json as { items: { metadata: { name: string }; versions: { resources: { resource: string; scope: string }[] }[] }[] }).items;
    const example = items.find((i) => i.metadata.name === 'example.com');
    assert.equal(example?.versions[0]?.resources[0]?.scope, 'Namespaced');

    const index = (await call(c, 'GET', '/openapi/v3')).json as { paths: Record<string, { serverRelativeURL: string }> };
    const url = index.paths['apis/example.com/v1']?.serverRelativeURL;
    assert.ok(url);
    const doc = (await call(c, 'GET', url)).json as { paths: Record<string, { patch?: { parameters: { name: string }[]; 'x-kubernetes-group-version-kind': unknown } }> };
    const patch = doc.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}']?.patch;
    assert.deepEqual(patch?.['x-kubernetes-group-version-kind'], { group: 'example.com', version: 'v1', kind: 'Widget' });
    assert.ok(patch?.parameters.some((p) => p.name === 'fieldValidation'));
  });

  it('creates with uid, creationTimestamp, generation, generateName; ignores unknown query parameters', async () => {
    const r = await call(c, 'POST', `${WIDGETS}?fieldManager=me&fieldValidation=Strict&timeout=5s&bogus=1`, {
      body: json({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { generateName: 'gen-', labels: { tier: 'a' } }, spec: { size: 1 } }),
      contentType: 'application/json',
    });
    assert.equal(r.status, 201, r.text);
    const o = r.json as Obj;
    assert.match(String(o.metadata['name']), /^gen-[a-z0-9]{5}$/);
    assert.match(String(o.metadata['uid']), /^[0-9a-f-]{36}$/);
    assert.match(String(o.metadata['creationTimestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(o.metadata['generation'], 1);
    assert.match(String(o.metadata['resourceVersion']), /^\d+$/);
  });

  it('answers AlreadyExists, Conflict, NotFound and a missing namespace as Status objects', async () => {
    const body = json({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 1 } });
    const first = await call(c, 'POST', WIDGETS, { body, contentType: 'application/json' });
    assert.equal(first.status, 201);
    const dup = await call(c, 'POST', WIDGETS, { body, contentType: 'application/json' });
    assert.equal(dup.status, 409);
    assert.equal((dup.json as { reason: string }).reason, 'AlreadyExists');
    assert.equal((dup.json as { message: string }).message, 'widgets.example.com "w1" already exists');

    const stale = { ...(first.json as Obj), spec: { size: 2 } };
    assert.equal((await call(c, 'PUT', `${WIDGETS}/w1`, { body: json(stale), contentType: 'application/json' })).status, 200);
    const conflict = await call(c, 'PUT', `${WIDGETS}/w1`, { body: json({ ...stale, spec: { size: 3 } }), contentType: 'application/json' });
    assert.equal(conflict.status, 409);
    assert.equal((conflict.json as { reason: string }).reason, 'Conflict');

    const missing = await call(c, 'GET', `${WIDGETS}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual((missing.json as { details: unknown }).details, { name: 'nope', group: 'example.com', kind: 'widgets' });
    const noNs = await call(c, 'POST', '/api/v1/namespaces/ghost/configmaps', { body: json({ metadata: { name: 'x' } }), contentType: 'application/json' });
    assert.equal(noNs.status, 404);
    assert.equal((noNs.json as { message: string }).message, 'namespaces "ghost" not found');
  });

  it('lists as <Kind>List with metadata.resourceVersion; filters by label and metadata.name selectors', async () => {
    const list = (await call(c, 'GET', `${WIDGETS}?limit=500&labelSelector=${encodeURIComponent('tier in (a,b)')}`)).json as { kind: string; metadata: { resourceVersion: string }; items: Obj[] };
    assert.equal(list.kind, 'WidgetList');
    assert.match(list.metadata.resourceVersion, /^\d+$/);
    assert.equal(list.items.length, 1);
    assert.match(String(list.items[0]?.metadata['name']), /^gen-/);
    const byName = (await call(c, 'GET', `${WIDGETS}?fieldSelector=metadata.name%3Dw1`)).json as { items: Obj[] };
    assert.deepEqual(byName.items.map((i) => i.metadata['name']), ['w1']);
    const notLabel = (await call(c, 'GET', `${WIDGETS}?labelSelector=!tier`)).json as { items: Obj[] };
    assert.deepEqual(notLabel.items.map((i) => i.metadata['name']), ['w1']);
    const badField = await call(c, 'GET', `${WIDGETS}?fieldSelector=spec.size%3D1`);
    assert.equal(badField.status, 400);
    // built-in lists carry no kind/apiVersion on their items, like a real apiserver's typed lists
    const nodes = (await call(c, 'GET', '/api/v1/nodes')).json as { kind: string; items: Obj[] };
    assert.equal(nodes.kind, 'NodeList');
    assert.equal(nodes.items[0]?.kind, undefined);
  });

  it('patches: merge and JSON patch on a custom resource, strategic merge is 415 there', async () => {
    const merge = await call(c, 'PATCH', `${WIDGETS}/w1`, { body: json({ spec: { color: 'red' } }), contentType: 'application/merge-patch+json' });
    assert.equal(merge.status, 200);
    assert.deepEqual((merge.json as Obj)['spec'], { size: 2, color: 'red' });
    assert.equal((merge.json as Obj).metadata['generation'], 3);
    const jp = await call(c, 'PATCH', `${WIDGETS}/w1`, { body: json([{ op: 'remove', path: '/spec/color' }]), contentType: 'application/json-patch+json' });
    assert.deepEqual((jp.json as Obj)['spec'], { size: 2 });
    const smp = await call(c, 'PATCH', `${WIDGETS}/w1`, { body: json({ spec: { size: 9 } }), contentType: 'application/strategic-merge-patch+json' });
    assert.equal(smp.status, 415);
    const failedTest = await call(c, 'PATCH', `${WIDGETS}/w1`, { body: json([{ op: 'test', path: '/spec/size', value: 99 }]), contentType: 'application/json-patch+json' });
    assert.equal(failedTest.status, 422);
  });

  it('keeps an object with finalizers until they are removed, then deletes it (200 with the object)', async () => {
    await call(c, 'PATCH', `${WIDGETS}/w1`, { body: json({ metadata: { finalizers: ['example.com/hold'] } }), contentType: 'application/merge-patch+json' });
    const del = await call(c, 'DELETE', `${WIDGETS}/w1`);
    assert.equal(del.status, 200);
    assert.ok((del.json as Obj).metadata['deletionTimestamp']);
    assert.equal((await call(c, 'GET', `${WIDGETS}/w1`)).status, 200);
    const done = await call(c, 'PATCH', `${WIDGETS}/w1`, { body: json({ metadata: { finalizers: null } }), contentType: 'application/merge-patch+json' });
    assert.equal(done.status, 200);
    assert.equal((await call(c, 'GET', `${WIDGETS}/w1`)).status, 404);
  });

  it('drops metadata.namespace for cluster-scoped kinds and writes status only through /status', async () => {
    await call(c, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: json(YAML.parse(CLUSTER_CRD)), contentType: 'application/json' });
    const r = await call(c, 'POST', '/apis/cluster.kubesphere.io/v1alpha1/clusters', {
      body: json({ apiVersion: 'cluster.kubesphere.io/v1alpha1', kind: 'Cluster', metadata: { name: 'm1', namespace: 'kubesphere-system' }, status: { ready: true } }),
      contentType: 'application/json',
    });
    assert.equal(r.status, 201);
    assert.equal((r.json as Obj).metadata['namespace'], undefined);
    assert.deepEqual((r.json as Obj)['status'], { ready: true }, 'without a status subresource, status is ordinary content');
    const svc = await call(c, 'POST', '/api/v1/namespaces/default/services', {
      body: json({ metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] }, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }),
      contentType: 'application/json',
    });
    assert.deepEqual((svc.json as Obj)['status'], { loadBalancer: {} });
    const st = await call(c, 'PATCH', '/api/v1/namespaces/default/services/lb/status', {
      body: json({ status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }),
      contentType: 'application/merge-patch+json',
    });
    assert.deepEqual((st.json as Obj)['status'], { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } });
  });

  it('answers Tables with the columns and resourceVersion kubectl expects', async () => {
    const t = (await call(c, 'GET', '/api/v1/nodes', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' })).json as {
      kind: string;
      metadata: { resourceVersion: string };
      columnDefinitions: { name: string }[];
      rows: { cells: unknown[] }[];
    };
    assert.equal(t.kind, 'Table');
    assert.match(t.metadata.resourceVersion, /^\d+$/);
    assert.deepEqual(t.columnDefinitions.slice(0, 5).map((col) => col.name), ['Name', 'Status', 'Roles', 'Age', 'Version']);
    assert.deepEqual(t.rows[0]?.cells.slice(0, 3), ['api-control-plane', 'Ready', 'control-plane']);
  });

  it('answers malformed bodies with 400, bodies over 3 MiB with 413, and keeps serving', async () => {
    const bad = await call(c, 'POST', WIDGETS, { body: '{"metadata": {', contentType: 'application/json' });
    assert.equal(bad.status, 400);
    assert.match((bad.json as { message: string }).message, /json/i);
    const notObject = await call(c, 'POST', WIDGETS, { body: '[1,2]', contentType: 'application/json' });
    assert.equal(notObject.status, 400);
    const badLabels = await call(c, 'POST', '/api/v1/namespaces/default/configmaps', { body: json({ metadata: { name: 'x', labels: { a: 1 } } }), contentType: 'application/json' });
    assert.equal(badLabels.status, 400);
    const badProto = await call(c, 'POST', '/api/v1/namespaces/default/configmaps', { body: Buffer.from('k8s\u0000\u0012\u00ff'), contentType: 'application/vnd.kubernetes.protobuf' });
    assert.equal(badProto.status, 400);
    const big = await call(c, 'POST', '/api/v1/namespaces/default/configmaps', { body: json({ metadata: { name: 'big' }, data: { x: 'a'.repeat(3 * 1024 * 1024) } }), contentType: 'application/json' });
    assert.equal(big.status, 413);
    const badPatch = await call(c, 'PATCH', '/api/v1/namespaces/default/services/lb', { body: 'x', contentType: 'text/plain' });
    assert.equal(badPatch.status, 415);
    assert.equal((await call(c, 'GET', '/healthz')).status, 200);
  });
});
