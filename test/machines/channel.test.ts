import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor } from 'xstate';
import { channelMachine, type ChannelInput } from '../../src/machines/channel.js';
import { fakeChannelIo, reach, settle } from './stubs.js';

const KUBE = '10.96.0.1:443';
const KS = 'ks-apiserver.kubesphere-system.svc:80';

function startChannel(input: Partial<ChannelInput> = {}) {
  const fake = fakeChannelIo();
  const actor = createActor(channelMachine, {
    input: { id: 'ch-1', target: KUBE, allowedTargets: [KUBE, KS], openTimeoutMs: 60_000, io: fake.io, ...input },
  });
  actor.start();
  return {
    actor,
    fake,
    refused: fake.state.refused,
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
  };
}

test('allowed target → opening: the io is asked to open', () => {
  const ch = startChannel();
  assert.equal(ch.value(), 'opening');
  assert.equal(ch.fake.opens.length, 1);
  assert.equal(ch.fake.state.pipeStarts, 0);
  ch.actor.stop();
  assert.equal(ch.fake.lastOpen().signal.aborted, true, 'stopping the channel aborts its open');
});

test('open resolves → open (piping with the id) → closed on pipe.done, counting bytes', async () => {
  const ch = startChannel();
  ch.fake.lastOpen().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  assert.equal(ch.fake.piping, true);
  ch.fake.endPipe({ bytesIn: 1_234, bytesOut: 56 });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.actor.getSnapshot().status, 'done');
  assert.equal(ch.context().bytesIn, 1_234);
  assert.equal(ch.context().bytesOut, 56);
  assert.equal(ch.context().reason, undefined);
  assert.equal(ch.fake.state.pipeStops, 1, 'the pipe actor is stopped once closed');
  assert.deepEqual(ch.actor.getSnapshot().output, { end: 'closed', reason: undefined, bytesIn: 1_234, bytesOut: 56 });
  assert.deepEqual(ch.refused, []);
});

test('pipe.done with an error closes with it as the reason', async () => {
  const ch = startChannel();
  ch.fake.lastOpen().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  ch.fake.endPipe({ bytesIn: 10, bytesOut: 0, error: 'read ECONNRESET' });
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
  assert.equal(ch.fake.opens.length, 0);
  assert.equal(ch.fake.state.pipeStarts, 0);
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
  ch.fake.lastOpen().reject(new Error('connect ECONNREFUSED 10.96.0.1:443'));
  await reach(ch.actor, (s) => s.status === 'done');
  assert.equal(ch.value(), 'failed');
  assert.equal(ch.context().reason, 'connect ECONNREFUSED 10.96.0.1:443');
  assert.deepEqual(ch.refused, ['connect ECONNREFUSED 10.96.0.1:443']);
  assert.equal(ch.fake.state.pipeStarts, 0);
});

test('open failure with a non-Error value still gives a reason', async () => {
  const ch = startChannel();
  ch.fake.lastOpen().reject('dial timeout');
  await reach(ch.actor, (s) => s.status === 'done');
  assert.equal(ch.value(), 'failed');
  assert.equal(ch.context().reason, 'dial timeout');
  assert.deepEqual(ch.refused, ['dial timeout']);
});

test('close while opening → failed with the reason: the open is aborted and the requester told', async () => {
  const ch = startChannel();
  const call = ch.fake.lastOpen();
  ch.actor.send({ type: 'close', reason: 'session ended' });
  assert.equal(ch.value(), 'failed');
  assert.equal(ch.context().reason, 'session ended');
  assert.equal(call.signal.aborted, true);
  // A late success changes nothing.
  call.resolve();
  await settle();
  assert.equal(ch.value(), 'failed');
  assert.equal(ch.fake.state.pipeStarts, 0);
  assert.deepEqual(ch.refused, ['session ended']);
});

test('no answer within openTimeoutMs → failed with a reason naming the limit; the open is aborted', async () => {
  const ch = startChannel({ openTimeoutMs: 20 });
  const call = ch.fake.lastOpen();
  await reach(ch.actor, (s) => s.status === 'done');
  assert.equal(ch.value(), 'failed');
  assert.equal(ch.context().reason, 'no answer to the channel open within 20 ms');
  assert.equal(call.signal.aborted, true);
  assert.deepEqual(ch.refused, ['no answer to the channel open within 20 ms']);
  assert.deepEqual(ch.actor.getSnapshot().output, { end: 'failed', reason: 'no answer to the channel open within 20 ms', bytesIn: 0, bytesOut: 0 });
});

test('close while open → closed with the reason, stopping the pipe', async () => {
  const ch = startChannel();
  ch.fake.lastOpen().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  ch.actor.send({ type: 'close', reason: 'client went away' });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.context().reason, 'client went away');
  assert.equal(ch.fake.piping, false);
  assert.equal(ch.fake.state.pipeStops, 1);
  assert.deepEqual(ch.refused, []);
});

test('events after the end are ignored', async () => {
  const ch = startChannel();
  ch.fake.lastOpen().resolve();
  await reach(ch.actor, (s) => s.value === 'open');
  ch.fake.endPipe({ bytesIn: 1, bytesOut: 2 });
  ch.actor.send({ type: 'close', reason: 'late' });
  assert.equal(ch.value(), 'closed');
  assert.equal(ch.context().reason, undefined);
  assert.equal(ch.context().bytesIn, 1);
});
