import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor } from 'xstate';
import { channelMachine, type ChannelEvent, type ChannelInput } from '../../src/machines/channel.js';
import { callbackStub, promiseStub, reach, settle } from './stubs.js';

const KUBE = '10.96.0.1:443';
const KS = 'ks-apiserver.kubesphere-system.svc:80';

function startChannel(input: Partial<ChannelInput> = {}) {
  const open = promiseStub<void, { id: string; target: string }>();
  const pipe = callbackStub<ChannelEvent, ChannelEvent, { id: string }>();
  const refused: (string | undefined)[] = [];
  const machine = channelMachine.provide({
    actors: { open: open.logic, pipe: pipe.logic },
    actions: { refuse: ({ context }) => void refused.push(context.reason) },
  });
  const actor = createActor(machine, { input: { id: 'ch-1', target: KUBE, allowedTargets: [KUBE, KS], ...input } });
  actor.start();
  return { actor, open, pipe, refused, value: () => actor.getSnapshot().value, context: () => actor.getSnapshot().context };
}

test('allowed target → opening, with id and target given to the open actor', () => {
  const ch = startChannel();
  assert.equal(ch.value(), 'opening');
  assert.equal(ch.open.calls.length, 1);
  assert.deepEqual(ch.open.last().input, { id: 'ch-1', target: KUBE });
  assert.equal(ch.pipe.starts, 0);
  ch.actor.stop();
});

test('open resolves → open (piping with the id) → closed on pipe.done, counting bytes', async () => {
  const ch = startChannel();
  ch.open.last().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  assert.deepEqual(ch.pipe.inputs, [{ id: 'ch-1' }]);
  assert.equal(ch.pipe.running, true);
  ch.pipe.sendBack({ type: 'pipe.done', bytesIn: 1_234, bytesOut: 56 });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.actor.getSnapshot().status, 'done');
  assert.equal(ch.context().bytesIn, 1_234);
  assert.equal(ch.context().bytesOut, 56);
  assert.equal(ch.context().reason, undefined);
  assert.equal(ch.pipe.running, false, 'the pipe actor is stopped once closed');
  assert.deepEqual(ch.refused, []);
});

test('pipe.done with an error closes with it as the reason', async () => {
  const ch = startChannel();
  ch.open.last().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  ch.pipe.sendBack({ type: 'pipe.done', bytesIn: 10, bytesOut: 0, error: 'read ECONNRESET' });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.context().reason, 'read ECONNRESET');
  assert.deepEqual(ch.refused, []);
});

test('disallowed target → refused at once: refuse called with the reason, nothing opened', async () => {
  const ch = startChannel({ target: '169.254.169.254:80' });
  assert.equal(ch.value(), 'refused');
  assert.equal(ch.actor.getSnapshot().status, 'done');
  assert.equal(ch.context().reason, 'target 169.254.169.254:80 is not allowed');
  assert.deepEqual(ch.refused, ['target 169.254.169.254:80 is not allowed']);
  await settle();
  assert.equal(ch.open.calls.length, 0);
  assert.equal(ch.pipe.starts, 0);
});

test('the target check is exact: another port or a look-alike host is refused', () => {
  for (const target of ['10.96.0.1:6443', '10.96.0.1', 'ks-apiserver.kubesphere-system.svc:8080', `${KUBE} `, '']) {
    const ch = startChannel({ target });
    assert.equal(ch.value(), 'refused', JSON.stringify(target));
    assert.equal(ch.refused.length, 1);
  }
});

test('no allowed targets refuses everything', () => {
  const ch = startChannel({ allowedTargets: [] });
  assert.equal(ch.value(), 'refused');
});

test('open failure → failed with the error message as reason, refuse called', async () => {
  const ch = startChannel();
  ch.open.last().reject(new Error('connect ECONNREFUSED 10.96.0.1:443'));
  await reach(ch.actor, (s) => s.status === 'done');
  assert.equal(ch.value(), 'failed');
  assert.equal(ch.context().reason, 'connect ECONNREFUSED 10.96.0.1:443');
  assert.deepEqual(ch.refused, ['connect ECONNREFUSED 10.96.0.1:443']);
  assert.equal(ch.pipe.starts, 0);
});

test('open failure with a non-Error value still gives a reason', async () => {
  const ch = startChannel();
  ch.open.last().reject('dial timeout');
  await reach(ch.actor, (s) => s.status === 'done');
  assert.equal(ch.value(), 'failed');
  assert.equal(ch.context().reason, 'dial timeout');
  assert.deepEqual(ch.refused, ['dial timeout']);
});

test('close while opening → closed with the reason; the open is aborted and nothing is refused', async () => {
  const ch = startChannel();
  const call = ch.open.last();
  ch.actor.send({ type: 'close', reason: 'session ended' });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.context().reason, 'session ended');
  assert.equal(call.signal.aborted, true);
  // A late success changes nothing.
  call.resolve();
  await settle();
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.pipe.starts, 0);
  assert.deepEqual(ch.refused, []);
});

test('close while open → closed with the reason, stopping the pipe', async () => {
  const ch = startChannel();
  ch.open.last().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  ch.actor.send({ type: 'close', reason: 'client went away' });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.context().reason, 'client went away');
  assert.equal(ch.pipe.running, false);
  assert.equal(ch.pipe.stops, 1);
  assert.deepEqual(ch.refused, []);
});

test('events after the end are ignored', async () => {
  const ch = startChannel();
  ch.open.last().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  ch.pipe.sendBack({ type: 'pipe.done', bytesIn: 1, bytesOut: 2 });
  ch.actor.send({ type: 'close', reason: 'late' });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.context().reason, undefined);
  assert.equal(ch.context().bytesIn, 1);
});
