/** The real @kubernetes/client-node informer on a custom resource: add, update, delete, forced 410s, clean stop. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { ApiextensionsV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, makeInformer, setHeaderOptions } from '@kubernetes/client-node';
import type { Informer, KubernetesObject, ObjectCache, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { startDevCluster } from '../../devcluster/index.js';
import type { DevCluster } from '../../devcluster/index.js';
import { WIDGET_CRD, eventually } from './helpers.js';

interface Widget extends KubernetesObject {
  spec?: { size?: number };
}

describe('client-node informer on a custom resource', () => {
  let cluster: DevCluster;
  let api: CustomObjectsApi;
  let informer: Informer<Widget> & ObjectCache<Widget>;
  const seen: string[] = [];
  let listCalls = 0;
  const target = { group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets' };

  before(async () => {
    // A short history, so that a watch resumed after a few changes is too old.
    cluster = await startDevCluster({ name: 'informer', historySize: 5 });
    const kc = new KubeConfig();
    kc.loadFromString(cluster.adminKubeconfig);
    await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: YAML.parse(WIDGET_CRD) as V1CustomResourceDefinition });
    api = kc.makeApiClient(CustomObjectsApi);
    informer = makeInformer<Widget>(kc, '/apis/example.com/v1/namespaces/default/widgets', () => {
      listCalls++;
      return api.listNamespacedCustomObject(target);
    }) as Informer<Widget> & ObjectCache<Widget>;
    const record = (verb: string) => (o: Widget) => seen.push(`${verb}:${o.metadata?.name ?? ''}:${o.spec?.size ?? ''}`);
    informer.on('add', record('add'));
    informer.on('update', record('update'));
    informer.on('delete', record('delete'));
    await informer.start();
  });

  after(async () => {
    await informer.stop();
    await cluster.stop();
  });

  const create = (name: string, size: number) =>
    api.createNamespacedCustomObject({ ...target, body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name }, spec: { size } } });

  it('sees add, update (JSON and merge patches) and delete', async () => {
    await create('w1', 1);
    await eventually(() => seen.includes('add:w1:1'), 'add of w1');
    await api.patchNamespacedCustomObject({ ...target, name: 'w1', body: [{ op: 'replace', path: '/spec/size', value: 2 }] });
    await eventually(() => seen.includes('update:w1:2'), 'update of w1 (json patch)');
    await api.patchNamespacedCustomObject({ ...target, name: 'w1', body: { spec: { size: 3 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await eventually(() => seen.includes('update:w1:3'), 'update of w1 (merge patch)');
    await api.deleteNamespacedCustomObject({ ...target, name: 'w1' });
    await eventually(() => seen.includes('delete:w1:3'), 'delete of w1');
    assert.equal(informer.list('default').length, 0);
    assert.equal(listCalls, 1);
  });

  it('relists after its watch gets a 410 Expired ERROR event, and keeps watching', async () => {
    cluster.expireWatches();
    await eventually(() => listCalls === 2 && cluster.openWatches() === 1, 'relist and a new watch');
    await create('w2', 20);
    await eventually(() => seen.includes('add:w2:20'), 'add of w2 after the relist');
  });

  it('relists when resuming from a resourceVersion older than the history (410 on connect)', async () => {
    await informer.stop();
    await eventually(() => cluster.openWatches() === 0, 'the watch to close');
    // More changes than the history keeps, while the informer is away.
    for (let i = 0; i < 6; i++) await create(`batch${i}`, i);
    await api.deleteNamespacedCustomObject({ ...target, name: 'w2' });
    await informer.start();
    await eventually(() => listCalls === 3 && cluster.openWatches() === 1, 'a relist after the 410');
    await eventually(() => seen.includes('delete:w2:20') && seen.includes('add:batch5:5'), 'the changes missed while away');
    // A change seen through the new watch shows the informer is connected again. (Stopping a
    // client-node informer while its watch request is still in flight leaks that watch.)
    await create('fresh', 7);
    await eventually(() => seen.includes('add:fresh:7'), 'add of fresh through the new watch');
    assert.deepEqual(informer.list('default').map((o) => o.metadata?.name).sort(), ['batch0', 'batch1', 'batch2', 'batch3', 'batch4', 'batch5', 'fresh']);
  });

  it('stops cleanly: no watch stays open on the server', async () => {
    await informer.stop();
    await eventually(() => cluster.openWatches() === 0, 'no open watches');
  });
});
