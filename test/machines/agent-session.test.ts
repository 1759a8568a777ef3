import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import { agentSessionMachine, type AgentSessionEvent, type AgentSessionInput, type SshCommand } from '../../src/machines/agent-session.js';
import { channelMachine, type ChannelEvent } from '../../src/machines/channel.js';
import { CONFIG_TIMEOUT_MS } from '../../src/protocol/constants.js';
import { callbackStub, promiseStub, reach, settle } from './stubs.js';

const KUBE = '10.96.0.1:443';
const KS = 'ks-apiserver.kubesphere-system.svc:80';
/** The closing state's own fallback when the ssh actor never reports the socket gone. */
const CLOSE_FALLBACK_MS = 5_000;

const INPUT: AgentSessionInput = {
  sessionId: 's-1',
  key: 'k-1',
  remoteAddress: '192.0.2.7:51234',
  handshakeTimeoutMs: 30_000,
  configTimeoutMs: CONFIG_TIMEOUT_MS,
  rejectLingerMs: 200,
};

function startSession(overrides: Partial<AgentSessionInput> = {}) {
  const clock = new SimulatedClock();
  const ssh = callbackStub<SshCommand, AgentSessionEvent>();
  const open = promiseStub<void, { id: string; target: string }>();
  const pipe = callbackStub<ChannelEvent, ChannelEvent, { id: string }>();
  const announced = { serving: 0, ended: 0 };
  const machine = agentSessionMachine.provide({
    actors: {
      ssh: ssh.logic,
      channel: channelMachine.provide({ actors: { open: open.logic, pipe: pipe.logic } }),
    },
    actions: {
      announceServing: () => void (announced.serving += 1),
      announceEnded: () => void (announced.ended += 1),
    },
  });
  const actor = createActor(machine, { clock, input: { ...INPUT, ...overrides } });
  actor.start();
  return {
    actor,
    clock,
    ssh,
    open,
    pipe,
    announced,
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
    serve() {
      ssh.sendBack({ type: 'ssh.ready' });
      ssh.sendBack({ type: 'config.accepted', clusterName: 'member-1', allowedTargets: [KUBE, KS] });
    },
  };
}

test('starts handshaking with the ssh actor running and an empty context', () => {
  const s = startSession();
  assert.equal(s.value(), 'handshaking');
  assert.equal(s.ssh.starts, 1);
  assert.equal(s.context().clusterName, undefined);
  assert.equal(s.context().reason, undefined);
  assert.deepEqual(s.context().allowedTargets, []);
  assert.equal(s.context().sessionId, 's-1');
  s.actor.stop();
});

test('handshake timeout → closing → {type: close} to the ssh actor → closed on ssh.closed', () => {
  const s = startSession();
  s.clock.increment(INPUT.handshakeTimeoutMs - 1);
  assert.equal(s.value(), 'handshaking');
  assert.deepEqual(s.ssh.received, []);
  s.clock.increment(1);
  assert.equal(s.value(), 'closing');
  assert.equal(s.context().reason, 'SSH handshake timed out');
  assert.deepEqual(s.ssh.received, [{ type: 'close', reason: 'SSH handshake timed out' }]);
  s.ssh.sendBack({ type: 'ssh.closed', reason: 'socket closed' });
  assert.equal(s.value(), 'closed');
  assert.equal(s.actor.getSnapshot().status, 'done');
  // The first reason is kept.
  assert.equal(s.context().reason, 'SSH handshake timed out');
  assert.equal(s.ssh.running, false);
  assert.equal(s.announced.serving, 0);
  assert.equal(s.announced.ended, 0);
});

test('ssh.ready cancels the handshake timeout', () => {
  const s = startSession();
  s.ssh.sendBack({ type: 'ssh.ready' });
  assert.equal(s.value(), 'awaitingConfig');
  s.clock.increment(INPUT.handshakeTimeoutMs);
  // Only the config timeout (10 s) can fire here, and it did, not the handshake one.
  assert.equal(s.context().reason, 'no config request within the time limit');
  s.actor.stop();
});

test('config timeout (10 s) → closing → close sent with the reason', () => {
  const s = startSession();
  s.ssh.sendBack({ type: 'ssh.ready' });
  assert.equal(INPUT.configTimeoutMs, 10_000);
  s.clock.increment(9_999);
  assert.equal(s.value(), 'awaitingConfig');
  s.clock.increment(1);
  assert.equal(s.value(), 'closing');
  assert.deepEqual(s.ssh.received, [{ type: 'close', reason: 'no config request within the time limit' }]);
  s.actor.stop();
});

test('closing gives up waiting for ssh.closed after 5 s', () => {
  const s = startSession();
  s.ssh.sendBack({ type: 'ssh.ready' });
  s.clock.increment(INPUT.configTimeoutMs);
  assert.equal(s.value(), 'closing');
  s.clock.increment(CLOSE_FALLBACK_MS - 1);
  assert.equal(s.value(), 'closing');
  s.clock.increment(1);
  assert.equal(s.value(), 'closed');
  assert.equal(s.actor.getSnapshot().status, 'done');
  assert.equal(s.ssh.running, false, 'the ssh actor is stopped with the session');
});

test('config.accepted → serving: cluster and targets recorded, announceServing called once, no timeout fires', () => {
  const s = startSession();
  s.serve();
  assert.equal(s.value(), 'serving');
  assert.equal(s.context().clusterName, 'member-1');
  assert.deepEqual(s.context().allowedTargets, [KUBE, KS]);
  assert.equal(s.announced.serving, 1);
  assert.equal(s.announced.ended, 0);
  s.clock.increment(24 * 3600_000);
  assert.equal(s.value(), 'serving');
  assert.equal(s.announced.serving, 1);
  assert.deepEqual(s.ssh.received, []);
  s.actor.stop();
});

test('leaving serving on stop calls announceEnded once and closes the ssh connection with the reason', () => {
  const s = startSession();
  s.serve();
  s.actor.send({ type: 'stop', reason: 'cluster removed' });
  assert.equal(s.value(), 'closing');
  assert.equal(s.announced.ended, 1);
  assert.deepEqual(s.ssh.received, [{ type: 'close', reason: 'cluster removed' }]);
  s.ssh.sendBack({ type: 'ssh.closed', reason: 'closed by proxy' });
  assert.equal(s.value(), 'closed');
  assert.equal(s.context().reason, 'cluster removed');
  assert.equal(s.announced.serving, 1);
  assert.equal(s.announced.ended, 1);
});

test('leaving serving on ssh.closed calls announceEnded once', () => {
  const s = startSession();
  s.serve();
  s.ssh.sendBack({ type: 'ssh.closed', reason: 'agent went away' });
  assert.equal(s.value(), 'closed');
  assert.equal(s.context().reason, 'agent went away');
  assert.equal(s.announced.ended, 1);
  assert.deepEqual(s.ssh.received, [], 'no close command: the connection is already gone');
});

test('config.rejected → rejecting → closing after rejectLinger, close carries the rejection', () => {
  const s = startSession();
  s.ssh.sendBack({ type: 'ssh.ready' });
  s.ssh.sendBack({ type: 'config.rejected', reason: 'unknown cluster "nope"' });
  assert.equal(s.value(), 'rejecting');
  assert.equal(s.context().reason, 'unknown cluster "nope"');
  assert.deepEqual(s.ssh.received, []);
  s.clock.increment(INPUT.rejectLingerMs - 1);
  assert.equal(s.value(), 'rejecting');
  s.clock.increment(1);
  assert.equal(s.value(), 'closing');
  assert.deepEqual(s.ssh.received, [{ type: 'close', reason: 'unknown cluster "nope"' }]);
  assert.equal(s.announced.serving, 0);
  assert.equal(s.announced.ended, 0);
  s.actor.stop();
});

test('the config timeout does not fire after a rejection', () => {
  const s = startSession();
  s.ssh.sendBack({ type: 'ssh.ready' });
  s.clock.increment(INPUT.configTimeoutMs - 100);
  s.ssh.sendBack({ type: 'config.rejected', reason: 'bad token' });
  s.clock.increment(INPUT.rejectLingerMs);
  assert.equal(s.value(), 'closing');
  assert.equal(s.context().reason, 'bad token');
  assert.equal(s.ssh.received.length, 1);
  s.actor.stop();
});

test('ssh.closed from every state → closed with its reason', () => {
  const drivers: Record<string, (s: ReturnType<typeof startSession>) => void> = {
    handshaking: () => {},
    awaitingConfig: (s) => s.ssh.sendBack({ type: 'ssh.ready' }),
    rejecting: (s) => {
      s.ssh.sendBack({ type: 'ssh.ready' });
      s.ssh.sendBack({ type: 'config.rejected', reason: 'bad token' });
    },
    serving: (s) => s.serve(),
    closing: (s) => s.actor.send({ type: 'stop', reason: 'proxy stopping' }),
  };
  for (const [state, drive] of Object.entries(drivers)) {
    const s = startSession();
    drive(s);
    assert.equal(s.value(), state);
    s.ssh.sendBack({ type: 'ssh.closed', reason: 'connection reset' });
    assert.equal(s.value(), 'closed', state);
    assert.equal(s.actor.getSnapshot().status, 'done', state);
    const expected = state === 'rejecting' ? 'bad token' : state === 'closing' ? 'proxy stopping' : 'connection reset';
    assert.equal(s.context().reason, expected, state);
    assert.equal(s.ssh.running, false, state);
  }
});

test('stop from every live state → closing with its reason, then closed', () => {
  for (const state of ['handshaking', 'awaitingConfig', 'serving'] as const) {
    const s = startSession();
    if (state !== 'handshaking') s.ssh.sendBack({ type: 'ssh.ready' });
    if (state === 'serving') s.ssh.sendBack({ type: 'config.accepted', clusterName: 'm', allowedTargets: [KUBE] });
    assert.equal(s.value(), state);
    s.actor.send({ type: 'stop', reason: 'proxy stopping' });
    assert.equal(s.value(), 'closing', state);
    assert.deepEqual(s.ssh.received, [{ type: 'close', reason: 'proxy stopping' }], state);
    s.clock.increment(CLOSE_FALLBACK_MS);
    assert.equal(s.value(), 'closed', state);
    assert.equal(s.context().reason, 'proxy stopping', state);
  }
});

test('channel.requested in serving spawns a channel limited to the agent services', async () => {
  const s = startSession();
  s.serve();
  s.actor.send({ type: 'channel.requested', id: 's-1/ch-1', target: KS });
  const child = s.actor.getSnapshot().children['s-1/ch-1'];
  assert.ok(child, 'no channel child');
  const ctx = child.getSnapshot().context;
  assert.deepEqual({ id: ctx.id, target: ctx.target, allowedTargets: ctx.allowedTargets }, { id: 's-1/ch-1', target: KS, allowedTargets: [KUBE, KS] });
  assert.deepEqual(s.open.last().input, { id: 's-1/ch-1', target: KS, owner: 'k-1' });
  s.open.last().resolve();
  await reach(child, (snap) => snap.value === 'open');
  assert.deepEqual(s.pipe.inputs, [{ id: 's-1/ch-1', owner: 'k-1' }]);
  // The session ending ends its channels.
  s.ssh.sendBack({ type: 'ssh.closed', reason: 'agent went away' });
  assert.equal(s.pipe.running, false);
});

test('channel.requested outside serving spawns nothing', async () => {
  const drivers: Record<string, (s: ReturnType<typeof startSession>) => void> = {
    handshaking: () => {},
    awaitingConfig: (s) => s.ssh.sendBack({ type: 'ssh.ready' }),
    rejecting: (s) => {
      s.ssh.sendBack({ type: 'ssh.ready' });
      s.ssh.sendBack({ type: 'config.rejected', reason: 'bad token' });
    },
    closing: (s) => {
      s.serve();
      s.actor.send({ type: 'stop', reason: 'bye' });
    },
  };
  for (const [state, drive] of Object.entries(drivers)) {
    const s = startSession();
    drive(s);
    s.actor.send({ type: 'channel.requested', id: 'ch-x', target: KUBE });
    await settle();
    assert.equal(s.actor.getSnapshot().children['ch-x'], undefined, state);
    assert.equal(s.open.calls.length, 0, state);
    s.actor.stop();
  }
});

test('finished channels do not pile up in the session', async () => {
  const s = startSession();
  s.serve();
  for (let i = 1; i <= 3; i += 1) {
    const id = `s-1/ch-${i}`;
    s.actor.send({ type: 'channel.requested', id, target: KUBE });
    const child = s.actor.getSnapshot().children[id];
    assert.ok(child);
    s.open.last().resolve();
    await reach(child, (snap) => snap.value === 'open');
    s.pipe.sendBack({ type: 'pipe.done', bytesIn: 10, bytesOut: 20 });
  }
  // A refused and a failed one too.
  s.actor.send({ type: 'channel.requested', id: 's-1/ch-bad', target: '127.0.0.1:22' });
  s.actor.send({ type: 'channel.requested', id: 's-1/ch-fail', target: KS });
  const failing = s.actor.getSnapshot().children['s-1/ch-fail'];
  assert.ok(failing);
  s.open.last().reject(new Error('agent refused the channel'));
  await reach(failing, (snap) => snap.status === 'done');
  assert.equal(failing.getSnapshot().value, 'failed');
  assert.deepEqual(Object.keys(s.actor.getSnapshot().children), ['ssh'], 'finished channel actors are still held by the session');
  assert.equal(s.value(), 'serving');
  s.actor.stop();
});
