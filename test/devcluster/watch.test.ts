/** Watch streams at the HTTP level: framing, replay, resume, 410 Expired, selectors, bookmarks. */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startDevCluster } from '../../devcluster/index.js';
import type { DevCluster } from '../../devcluster/index.js';
import { WatchClient, call } from './http-client.js';

const CMS = '/api/v1/namespaces/default/configmaps';
const json = (v: unknown): string => JSON.stringify(v);

describe('devcluster watch', () => {
  let c: DevCluster;
  const open: WatchClient[] = [];
  const watch = (path: string): WatchClient => {
    const w = new WatchClient(c, path);
    open.push(w);
    return w;
  };
  const createCm = async (name: string, labels: Record<string, string> = {}): Promise<string> => {
    const r = await call(c, 'POST', CMS, { body: json({ metadata: { name, labels } }), contentType: 'application/json' });
    assert.equal(r.status, 201, r.text);
    return String((r.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
  };

  before(async () => {
    c = await startDevCluster({ name: 'watch', historySize: 20, bookmarkIntervalMs: 50 });
  });
  afterEach(() => {
    for (const w of open.splice(0)) w.close();
  });
  after(() => c.stop());

  it('flushes 200 headers at once and streams one JSON event per line', async () => {
    const listRv = (await call(c, 'GET', CMS)).json as { metadata: { resourceVersion: string } };
    const w = watch(`${CMS}?watch=true&resourceVersion=${listRv.metadata.resourceVersion}`);
    await w.until((x) => x.status === 200, 'headers before any event');
    assert.equal(w.events.length, 0);
    assert.equal(w.headers['transfer-encoding'], 'chunked');
    await createCm('a');
    await w.until((x) => x.events.length === 1, 'the ADDED event');
    assert.equal(w.events[0]?.type, 'ADDED');
    assert.equal(w.events[0]?.object.metadata?.name, 'a');
  });

  it('replays current state as ADDED for resourceVersion "" and "0"', async () => {
    for (const rv of ['', '0']) {
      const w = watch(`${CMS}?watch=1&resourceVersion=${rv}`);
      await w.until((x) => x.events.some((e) => e.object.metadata?.name === 'a'), `replay for rv "${rv}"`);
      assert.ok(w.events.every((e) => e.type === 'ADDED'));
    }
  });

  it('resumes after a resourceVersion with exactly the later changes', async () => {
    const rv = await createCm('b');
    await call(c, 'PATCH', `${CMS}/b`, { body: json({ data: { k: 'v' } }), contentType: 'application/merge-patch+json' });
    await call(c, 'DELETE', `${CMS}/b`);
    const w = watch(`${CMS}?watch=true&resourceVersion=${rv}`);
    await w.until((x) => x.events.length === 2, 'MODIFIED and DELETED');
    assert.deepEqual(w.events.map((e) => `${e.type}:${e.object.metadata?.name}`), ['MODIFIED:b', 'DELETED:b']);
  });

  it('answers a resourceVersion older than the history with an ERROR 410 Expired event and ends', async () => {
    const old = await createCm('c');
    for (let i = 0; i < 25; i++) await call(c, 'PATCH', `${CMS}/c`, { body: json({ data: { i: String(i) } }), contentType: 'application/merge-patch+json' });
    const w = watch(`${CMS}?watch=true&resourceVersion=${old}`);
    await w.until((x) => x.ended, 'the stream to end');
    assert.equal(w.status, 200);
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0]?.type, 'ERROR');
    assert.equal(w.events[0]?.object.code, 410);
    assert.equal(w.events[0]?.object.reason, 'Expired');
  });

  it('turns selector transitions into ADDED and DELETED, and honours metadata.name', async () => {
    const w = watch(`${CMS}?watch=true&labelSelector=color%3Dblue`);
    const named = watch(`${CMS}?watch=true&fieldSelector=metadata.name%3Dd`);
    await w.until((x) => x.status === 200, 'headers');
    await createCm('d');
    await call(c, 'PATCH', `${CMS}/d`, { body: json({ metadata: { labels: { color: 'blue' } } }), contentType: 'application/merge-patch+json' });
    await call(c, 'PATCH', `${CMS}/d`, { body: json({ metadata: { labels: { color: 'red' } } }), contentType: 'application/merge-patch+json' });
    await w.until((x) => x.events.length === 2, 'ADDED then DELETED');
    assert.deepEqual(w.events.map((e) => e.type), ['ADDED', 'DELETED']);
    await named.until((x) => x.events.length === 3, 'all three events of d');
    assert.deepEqual(named.events.map((e) => e.type), ['ADDED', 'MODIFIED', 'MODIFIED']);
  });

  it('sends bookmarks when asked, and the initial-events-end bookmark for sendInitialEvents', async () => {
    const w = watch(`${CMS}?watch=true&allowWatchBookmarks=true`);
    await w.until((x) => x.events.some((e) => e.type === 'BOOKMARK'), 'a bookmark');
    const bm = w.events.find((e) => e.type === 'BOOKMARK');
    assert.equal(bm?.object.kind, 'ConfigMap');
    assert.match(String(bm?.object.metadata?.resourceVersion), /^\d+$/);
    const init = watch(`${CMS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    await init.until((x) => x.events.some((e) => e.object.metadata?.annotations?.['k8s.io/initial-events-end'] === 'true'), 'initial-events-end');
    const plain = watch(CMS + '?watch=true');
    await plain.until((x) => x.events.length > 0, 'replay');
    assert.ok(!plain.events.some((e) => e.type === 'BOOKMARK'));
  });

  it('ends a watch after timeoutSeconds, and with an ERROR when the server expires it', async () => {
    const w = watch(`${CMS}?watch=true&timeoutSeconds=1`);
    await w.until((x) => x.ended, 'the timeout', 3000);
    const live = watch(`${CMS}?watch=true`);
    await live.until((x) => x.status === 200, 'headers');
    assert.ok(c.openWatches() >= 1);
    c.expireWatches();
    await live.until((x) => x.ended, 'expiry');
    assert.equal(live.events.at(-1)?.type, 'ERROR');
    assert.equal(live.events.at(-1)?.object.code, 410);
  });
});
