import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import { clusterGatewayMachine } from '../../src/machines/cluster-gateway.js';
import type { BackoffOptions } from '../../src/machines/backoff.js';
import { reach, settle, type PromiseCall } from './stubs.js';

const RETRY: BackoffOptions = { minMs: 2_000, maxMs: 8_000, factor: 2 };

function startGateway() {
  const clock = new SimulatedClock();
  const listens: PromiseCall<void, undefined>[] = [];
  const unlistens: PromiseCall<void, undefined>[] = [];
  const call = (calls: PromiseCall<void, undefined>[]) => () =>
    new Promise<void>((resolve, reject) => calls.push({ input: undefined, signal: new AbortController().signal, resolve, reject }));
  const io = { listen: call(listens), unlisten: call(unlistens) };
  const actor = createActor(clusterGatewayMachine, { clock, input: { clusterName: 'member-1', retry: RETRY, io } });
  actor.start();
  const last = (calls: PromiseCall<void, undefined>[]) => {
    const latest = calls.at(-1);
    if (!latest) throw new Error('never called');
    return latest;
  };
  return {
    actor,
    clock,
    listens,
    unlistens,
    lastListen: () => last(listens),
    lastUnlisten: () => last(unlistens),
    is: (value: string) => reach(actor, (s) => s.value === value),
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
  };
}

test('binds at once, agents or not, and listens once the bind succeeds', async () => {
  const g = startGateway();
  assert.equal(g.value(), 'binding');
  assert.equal(g.listens.length, 1);
  g.lastListen().resolve();
  await g.is('listening');
  assert.equal(g.context().failures, 0);
  assert.equal(g.context().lastError, undefined);
  g.clock.increment(3_600_000);
  await settle();
  assert.equal(g.listens.length, 1, 'nothing binds again while listening');
  assert.equal(g.unlistens.length, 0);
  g.actor.stop();
});

test('sessions come and go in any state without touching the listeners; duplicates are kept once', async () => {
  const g = startGateway();
  g.actor.send({ type: 'session.add', sessionId: 's-1' });
  g.actor.send({ type: 'session.add', sessionId: 's-2' });
  g.actor.send({ type: 'session.add', sessionId: 's-1' });
  assert.deepEqual(g.context().sessions, ['s-1', 's-2']);
  g.lastListen().resolve();
  await g.is('listening');
  g.actor.send({ type: 'session.remove', sessionId: 's-1' });
  g.actor.send({ type: 'session.remove', sessionId: 's-1' });
  g.actor.send({ type: 'session.remove', sessionId: 's-9' });
  assert.deepEqual(g.context().sessions, ['s-2']);
  g.actor.send({ type: 'session.remove', sessionId: 's-2' });
  assert.equal(g.value(), 'listening', 'the last agent leaving keeps the ports held');
  assert.equal(g.unlistens.length, 0);
  g.actor.stop();
});

test('a failed bind retries with a growing, capped delay; success clears the failures', async () => {
  const g = startGateway();
  const delays: Array<[number, number]> = [
    [1_000, 2_000], // step 2 s: equal jitter puts the retry in its upper half
    [2_000, 4_000],
    [4_000, 8_000],
    [4_000, 8_000], // capped
  ];
  for (const [i, [earliest, latest]] of delays.entries()) {
    g.lastListen().reject(new Error('port 6000 on 127.0.0.1 is already in use'));
    await g.is('retrying');
    assert.equal(g.context().failures, i + 1);
    assert.equal(g.context().lastError, 'port 6000 on 127.0.0.1 is already in use');
    g.clock.increment(earliest - 1);
    assert.equal(g.value(), 'retrying', `retry ${i + 1} came before ${earliest} ms`);
    g.clock.increment(latest - earliest + 1);
    assert.equal(g.value(), 'binding', `retry ${i + 1} did not come within ${latest} ms`);
    assert.equal(g.listens.length, i + 2);
  }
  g.lastListen().resolve();
  await g.is('listening');
  assert.equal(g.context().failures, 0);
  assert.equal(g.context().lastError, undefined);
  g.actor.stop();
});

test('new ports while listening: unbind, then bind with them', async () => {
  const g = startGateway();
  g.lastListen().resolve();
  await g.is('listening');
  g.actor.send({ type: 'cluster.update' });
  assert.equal(g.value(), 'rebinding');
  assert.equal(g.unlistens.length, 1);
  g.lastUnlisten().resolve();
  await g.is('binding');
  assert.equal(g.listens.length, 2);
  g.lastListen().resolve();
  await g.is('listening');
  g.actor.stop();
});

test('new ports while binding are not lost: the listeners rebind once the first bind is done', async () => {
  const g = startGateway();
  g.actor.send({ type: 'cluster.update' });
  assert.equal(g.value(), 'binding');
  g.lastListen().resolve();
  await g.is('rebinding');
  g.lastUnlisten().resolve();
  await g.is('binding');
  assert.equal(g.listens.length, 2);
  g.actor.stop();
});

test('new ports while retrying: bind with them at once, no waiting for the backoff', async () => {
  const g = startGateway();
  g.lastListen().reject(new Error('port taken'));
  await g.is('retrying');
  g.actor.send({ type: 'cluster.update' });
  assert.equal(g.value(), 'binding');
  assert.equal(g.listens.length, 2);
  g.actor.stop();
});

test('cluster.remove from every state ends in removed once the listeners are closed', async () => {
  const drivers: Record<string, (g: ReturnType<typeof startGateway>) => Promise<void>> = {
    binding: async () => {},
    listening: async (g) => {
      g.lastListen().resolve();
      await g.is('listening');
    },
    retrying: async (g) => {
      g.lastListen().reject(new Error('port taken'));
      await g.is('retrying');
    },
    rebinding: async (g) => {
      g.lastListen().resolve();
      await g.is('listening');
      g.actor.send({ type: 'cluster.update' });
    },
  };
  for (const [state, drive] of Object.entries(drivers)) {
    const g = startGateway();
    await drive(g);
    assert.equal(g.value(), state);
    const before = g.unlistens.length;
    g.actor.send({ type: 'cluster.remove' });
    g.actor.send({ type: 'cluster.remove' });
    assert.equal(g.value(), 'closing', state);
    assert.equal(g.unlistens.length, before + 1, `${state}: one unlisten for the removal`);
    g.lastUnlisten().reject(new Error('close failed'));
    await reach(g.actor, (s) => s.status === 'done');
    assert.equal(g.value(), 'removed', state);
  }
});
