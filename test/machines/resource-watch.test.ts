/** The resource-watch machine: list → watch → relist on 410, re-watch on end, backoff on error. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createActor, SimulatedClock } from 'xstate';
import {
  resourceWatchMachine,
  type Delivery,
  type ListResult,
  type ResourceWatchEvent,
  type ResourceWatchIo,
} from '../../src/machines/resource-watch.js';
import { reach, type PromiseCall } from './stubs.js';

const item = (name: string, rv: string) => ({ metadata: { name, resourceVersion: rv } });

/** A watch's io the test drives: lists settle and watches report only when told. */
function harness() {
  const calls: PromiseCall<ListResult, undefined>[] = [];
  const inputs: Array<{ resourceVersion: string | undefined }> = [];
  let starts = 0;
  let current: ((event: ResourceWatchEvent) => void) | undefined;
  const delivered: Delivery[] = [];
  const io: ResourceWatchIo = {
    list: () => new Promise((resolve, reject) => calls.push({ input: undefined, signal: new AbortController().signal, resolve, reject })),
    watch: (resourceVersion, sendBack) => {
      starts += 1;
      inputs.push({ resourceVersion });
      current = sendBack;
      return () => {
        if (current === sendBack) current = undefined;
      };
    },
    deliver: (delivery) => void delivered.push(delivery),
  };
  const list = {
    calls,
    last(): PromiseCall<ListResult, undefined> {
      const call = calls.at(-1);
      if (!call) throw new Error('never listed');
      return call;
    },
  };
  const watch = {
    inputs,
    get starts() {
      return starts;
    },
    get running() {
      return current !== undefined;
    },
    sendBack(event: ResourceWatchEvent) {
      if (!current) throw new Error(`no watch running to send ${event.type} from`);
      current(event);
    },
  };
  const clock = new SimulatedClock();
  const actor = createActor(resourceWatchMachine, { clock, input: { resource: 'clusters', backoff: { minMs: 1000, maxMs: 8000, factor: 2 }, io } });
  actor.start();
  return { actor, list, watch, delivered, clock };
}

describe('resource-watch machine', () => {
  it('lists, delivers a sync, then watches from the list\'s resourceVersion', async () => {
    const h = harness();
    h.list.last().resolve({ resourceVersion: '10', items: [item('a', '9')] });
    await reach(h.actor, (s) => s.matches('watching'));
    assert.deepEqual(h.delivered, [{ type: 'sync', items: [item('a', '9')] }]);
    assert.deepEqual(h.watch.inputs.at(-1), { resourceVersion: '10' });
  });

  it('delivers changes and moves the resourceVersion with events and bookmarks', async () => {
    const h = harness();
    h.list.last().resolve({ resourceVersion: '10', items: [] });
    await reach(h.actor, (s) => s.matches('watching'));
    h.watch.sendBack({ type: 'watch.event', eventType: 'ADDED', object: item('b', '11') });
    h.watch.sendBack({ type: 'watch.bookmark', resourceVersion: '15' });
    assert.equal(h.actor.getSnapshot().context.resourceVersion, '15');
    assert.deepEqual(h.delivered.at(-1), { type: 'ADDED', object: item('b', '11') });
    // A normal end of the stream: watch again from where we are, no relist.
    h.watch.sendBack({ type: 'watch.ended' });
    await reach(h.actor, () => h.watch.starts === 2);
    assert.deepEqual(h.watch.inputs.at(-1), { resourceVersion: '15' });
    assert.equal(h.list.calls.length, 1);
  });

  it('relists on 410 Expired and counts it', async () => {
    const h = harness();
    h.list.last().resolve({ resourceVersion: '10', items: [] });
    await reach(h.actor, (s) => s.matches('watching'));
    h.watch.sendBack({ type: 'watch.expired' });
    await reach(h.actor, (s) => s.matches('listing'));
    assert.equal(h.list.calls.length, 2);
    assert.equal(h.actor.getSnapshot().context.relists, 1);
    assert.equal(h.watch.running, false);
    h.list.last().resolve({ resourceVersion: '40', items: [item('c', '39')] });
    await reach(h.actor, (s) => s.matches('watching'));
    assert.deepEqual(h.delivered.at(-1), { type: 'sync', items: [item('c', '39')] });
  });

  it('backs off after an error and lists again when the delay has passed', async () => {
    const h = harness();
    h.list.last().reject(new Error('connection refused'));
    await reach(h.actor, (s) => s.matches('backoff'));
    assert.equal(h.actor.getSnapshot().context.lastError, 'connection refused');
    // Jitter puts the first retry in [500, 1000] ms.
    h.clock.increment(499);
    assert.ok(h.actor.getSnapshot().matches('backoff'), 'no retry before the smallest possible delay');
    h.clock.increment(501);
    await reach(h.actor, (s) => s.matches('listing'));
    assert.equal(h.list.calls.length, 2);
    h.list.last().resolve({ resourceVersion: '1', items: [] });
    await reach(h.actor, (s) => s.matches('watching'));
    assert.equal(h.actor.getSnapshot().context.failures, 0);
  });

  it('a watch failure backs off, and stop ends it from any state', async () => {
    const h = harness();
    h.list.last().resolve({ resourceVersion: '1', items: [] });
    await reach(h.actor, (s) => s.matches('watching'));
    h.watch.sendBack({ type: 'watch.failed', error: 'stream reset' });
    await reach(h.actor, (s) => s.matches('backoff'));
    h.actor.send({ type: 'stop' });
    assert.equal(h.actor.getSnapshot().status, 'done');
    assert.equal(h.watch.running, false);
  });
});
