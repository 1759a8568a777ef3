import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import { clusterGatewayMachine, type ClusterGatewayInput } from '../../src/machines/cluster-gateway.js';
import { promiseStub, reach, settle } from './stubs.js';

const INPUT: ClusterGatewayInput = { clusterName: 'member-1', key: 'k1', retryListenMs: 2_000 };

function startGateway() {
  const clock = new SimulatedClock();
  const listen = promiseStub<void>();
  const unlisten = promiseStub<void>();
  const machine = clusterGatewayMachine.provide({ actors: { listen: listen.logic, unlisten: unlisten.logic } });
  const actor = createActor(machine, { clock, input: INPUT });
  actor.start();
  const is = (value: string) => reach(actor, (s) => s.value === value);
  return {
    actor,
    clock,
    listen,
    unlisten,
    is,
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
    add: (sessionId: string) => actor.send({ type: 'session.add', sessionId }),
    remove: (sessionId: string) => actor.send({ type: 'session.remove', sessionId }),
    /** From idle: one session, listeners open. */
    async serve(sessionId = 's-1') {
      actor.send({ type: 'session.add', sessionId });
      listen.last().resolve();
      await is('serving');
    },
  };
}

test('starts idle with nothing listening', async () => {
  const g = startGateway();
  assert.equal(g.value(), 'idle');
  assert.deepEqual(g.context().sessions, []);
  g.clock.increment(60_000);
  await settle();
  assert.equal(g.listen.calls.length, 0);
  g.actor.stop();
});

test('first session.add → starting → serving once listen resolves', async () => {
  const g = startGateway();
  g.add('s-1');
  assert.equal(g.value(), 'starting');
  assert.deepEqual(g.context().sessions, ['s-1']);
  assert.equal(g.listen.calls.length, 1);
  g.listen.last().resolve();
  await g.is('serving');
  assert.equal(g.context().lastError, undefined);
  assert.equal(g.unlisten.calls.length, 0);
  g.actor.stop();
});

test('more sessions while starting or serving do not listen again; duplicates are kept once', async () => {
  const g = startGateway();
  g.add('s-1');
  g.add('s-2');
  g.add('s-1');
  assert.deepEqual(g.context().sessions, ['s-1', 's-2']);
  g.listen.last().resolve();
  await g.is('serving');
  g.add('s-3');
  assert.equal(g.value(), 'serving');
  assert.deepEqual(g.context().sessions, ['s-1', 's-2', 's-3']);
  assert.equal(g.listen.calls.length, 1);
  g.actor.stop();
});

test('listen rejects → retrying with lastError → after retryListenMs → starting → serving clears lastError', async () => {
  const g = startGateway();
  g.add('s-1');
  g.listen.last().reject(new Error('port 6443 on 0.0.0.0 is already in use'));
  await g.is('retrying');
  assert.equal(g.context().lastError, 'port 6443 on 0.0.0.0 is already in use');
  g.clock.increment(INPUT.retryListenMs - 1);
  assert.equal(g.value(), 'retrying');
  assert.equal(g.listen.calls.length, 1);
  g.clock.increment(1);
  assert.equal(g.value(), 'starting');
  assert.equal(g.listen.calls.length, 2);
  g.listen.last().reject('EACCES');
  await g.is('retrying');
  assert.equal(g.context().lastError, 'EACCES');
  g.clock.increment(INPUT.retryListenMs);
  g.listen.last().resolve();
  await g.is('serving');
  assert.equal(g.context().lastError, undefined);
  assert.equal(g.listen.calls.length, 3);
  g.actor.stop();
});

test('retrying with no sessions left → idle, and no retry fires', async () => {
  const g = startGateway();
  g.add('s-1');
  g.listen.last().reject(new Error('in use'));
  await g.is('retrying');
  g.remove('s-1');
  assert.equal(g.value(), 'idle');
  g.clock.increment(INPUT.retryListenMs * 5);
  assert.equal(g.value(), 'idle');
  assert.equal(g.listen.calls.length, 1);
  g.actor.stop();
});

test('last session.remove → stopping (unlisten) → idle', async () => {
  const g = startGateway();
  await g.serve('s-1');
  g.add('s-2');
  g.remove('s-1');
  assert.equal(g.value(), 'serving');
  assert.deepEqual(g.context().sessions, ['s-2']);
  g.remove('s-2');
  assert.equal(g.value(), 'stopping');
  assert.equal(g.unlisten.calls.length, 1);
  g.unlisten.last().resolve();
  await g.is('idle');
  assert.deepEqual(g.context().sessions, []);
  assert.equal(g.listen.calls.length, 1);
  g.actor.stop();
});

test('removing an unknown session changes nothing', async () => {
  const g = startGateway();
  await g.serve('s-1');
  g.remove('nope');
  assert.equal(g.value(), 'serving');
  assert.deepEqual(g.context().sessions, ['s-1']);
  g.actor.stop();
});

test('a failed unlisten still ends in idle', async () => {
  const g = startGateway();
  await g.serve('s-1');
  g.remove('s-1');
  g.unlisten.last().reject(new Error('close failed'));
  await g.is('idle');
  g.actor.stop();
});

test('a session re-added during stopping → idle → starting again once unlisten is done', async () => {
  const g = startGateway();
  await g.serve('s-1');
  g.remove('s-1');
  assert.equal(g.value(), 'stopping');
  g.add('s-2');
  // Listeners are not reopened before the old ones are closed.
  assert.equal(g.value(), 'stopping');
  assert.equal(g.listen.calls.length, 1);
  g.unlisten.last().resolve();
  await g.is('starting');
  assert.equal(g.listen.calls.length, 2);
  assert.deepEqual(g.context().sessions, ['s-2']);
  g.listen.last().resolve();
  await g.is('serving');
  g.actor.stop();
});

test('cluster.update while serving → stopping → starting again with the sessions kept', async () => {
  const g = startGateway();
  await g.serve('s-1');
  g.actor.send({ type: 'cluster.update' });
  assert.equal(g.value(), 'stopping');
  assert.equal(g.unlisten.calls.length, 1);
  g.unlisten.last().resolve();
  await g.is('starting');
  assert.equal(g.listen.calls.length, 2);
  assert.deepEqual(g.context().sessions, ['s-1']);
  g.listen.last().resolve();
  await g.is('serving');
  g.actor.stop();
});

test('cluster.update while idle does not open listeners', async () => {
  const g = startGateway();
  g.actor.send({ type: 'cluster.update' });
  await settle();
  assert.equal(g.value(), 'idle');
  assert.equal(g.listen.calls.length, 0);
  g.actor.stop();
});

test('cluster.remove while serving → stopping → removed (final) after unlisten', async () => {
  const g = startGateway();
  await g.serve('s-1');
  g.actor.send({ type: 'cluster.remove' });
  assert.equal(g.value(), 'stopping');
  assert.equal(g.context().removed, true);
  assert.equal(g.unlisten.calls.length, 1);
  g.unlisten.last().resolve();
  await g.is('removed');
  assert.equal(g.actor.getSnapshot().status, 'done');
  assert.equal(g.listen.calls.length, 1, 'no restart after removal');
});

test('cluster.remove while idle → removed at once', () => {
  const g = startGateway();
  g.actor.send({ type: 'cluster.remove' });
  assert.equal(g.value(), 'removed');
  assert.equal(g.actor.getSnapshot().status, 'done');
});

test('cluster.remove while starting waits for the listen, then unlistens → removed', async () => {
  const g = startGateway();
  g.add('s-1');
  g.actor.send({ type: 'cluster.remove' });
  assert.equal(g.value(), 'starting');
  g.listen.last().resolve();
  await g.is('stopping');
  g.unlisten.last().resolve();
  await g.is('removed');
});

test('cluster.remove while starting and the listen fails → removed', async () => {
  const g = startGateway();
  g.add('s-1');
  g.actor.send({ type: 'cluster.remove' });
  g.listen.last().reject(new Error('in use'));
  await g.is('removed');
  assert.equal(g.listen.calls.length, 1);
});

test('cluster.remove while retrying → removed', async () => {
  const g = startGateway();
  g.add('s-1');
  g.listen.last().reject(new Error('in use'));
  await g.is('retrying');
  g.actor.send({ type: 'cluster.remove' });
  assert.equal(g.value(), 'removed');
  g.clock.increment(INPUT.retryListenMs * 2);
  assert.equal(g.listen.calls.length, 1);
});

test('cluster.remove while stopping → removed after unlisten, even with sessions left', async () => {
  const g = startGateway();
  await g.serve('s-1');
  g.remove('s-1');
  g.add('s-2');
  g.actor.send({ type: 'cluster.remove' });
  g.unlisten.last().resolve();
  await g.is('removed');
  assert.equal(g.listen.calls.length, 1);
});

test('cluster.update while starting is not lost: the listeners reopen with the new settings', async () => {
  const g = startGateway();
  g.add('s-1');
  g.actor.send({ type: 'cluster.update' });
  g.listen.last().resolve();
  // The listen in flight used the old settings; it must be redone.
  await reach(g.actor, (s) => s.value !== 'starting');
  assert.equal(g.value(), 'stopping', 'an update during starting was dropped: listeners keep the old settings');
  g.unlisten.last().resolve();
  await g.is('starting');
  assert.equal(g.listen.calls.length, 2);
  g.listen.last().resolve();
  await g.is('serving');
  // Only once.
  await settle();
  assert.equal(g.value(), 'serving');
  assert.equal(g.unlisten.calls.length, 1);
  assert.equal(g.context().updatePending, false);
  g.actor.stop();
});
