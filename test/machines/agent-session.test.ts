import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import { agentSessionMachine, type AgentSessionEvent, type AgentSessionInput, type SessionIo, type SshCommand } from '../../src/machines/agent-session.js';
import { CONFIG_TIMEOUT_MS } from '../../src/protocol/constants.js';
import { fakeChannelIo, reach, settle } from './stubs.js';

const KUBE = '10.96.0.1:443';
const KS = 'ks-apiserver.kubesphere-system.svc:80';
/** The closing state's own fallback when the ssh actor never reports the socket gone. */
const CLOSE_FALLBACK_MS = 5_000;

const INPUT = {
  sessionId: 's-1',
  remoteAddress: '192.0.2.7:51234',
  handshakeTimeoutMs: 30_000,
  configTimeoutMs: CONFIG_TIMEOUT_MS,
  rejectLingerMs: 200,
  channelOpenTimeoutMs: 15_000,
};

/** The session's io: an ssh side the test drives, and the announcements it records. */
function fakeSessionIo() {
  const received: SshCommand[] = [];
  const announced = { serving: 0, ended: 0 };
  let starts = 0;
  let current: ((event: AgentSessionEvent) => void) | undefined;
  const io: SessionIo = {
    runSsh: ({ sendBack, receive }) => {
      starts += 1;
      current = sendBack;
      receive((command) => received.push(command));
      return () => (current = undefined);
    },
    announce: (serving) => void (serving ? (announced.serving += 1) : (announced.ended += 1)),
  };
  const ssh = {
    received,
    get starts() {
      return starts;
    },
    get running() {
      return current !== undefined;
    },
    sendBack(event: AgentSessionEvent) {
      if (!current) throw new Error(`no ssh actor running to send ${event.type} from`);
      current(event);
    },
  };
  return { io, ssh, announced };
}

function startSession(overrides: Partial<AgentSessionInput> = {}) {
  const clock = new SimulatedClock();
  const { io, ssh, announced } = fakeSessionIo();
  const actor = createActor(agentSessionMachine, { clock, input: { ...INPUT, io, ...overrides } });
  actor.start();
  const channels: ReturnType<typeof fakeChannelIo>[] = [];
  return {
    actor,
    clock,
    ssh,
    announced,
    channels,
    /** Ask the session for a channel, with an io of its own. */
    request(id: string, target: string) {
      const channel = fakeChannelIo();
      channels.push(channel);
      actor.send({ type: 'channel.requested', id, target, io: channel.io });
      return channel;
    },
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
  s.ssh.sendBack({ type: 'config.rejected', reason: 'unknown cluster "nope"', code: 'unknown_cluster' });
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
  s.ssh.sendBack({ type: 'ssh.closed', reason: 'closed by proxy' });
  assert.deepEqual(s.actor.getSnapshot().output, { clusterName: undefined, code: 'unknown_cluster', reason: 'unknown cluster "nope"' });
});

test('the config timeout does not fire after a rejection', () => {
  const s = startSession();
  s.ssh.sendBack({ type: 'ssh.ready' });
  s.clock.increment(INPUT.configTimeoutMs - 100);
  s.ssh.sendBack({ type: 'config.rejected', reason: 'bad token', code: 'wrong_token' });
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
      s.ssh.sendBack({ type: 'config.rejected', reason: 'bad token', code: 'wrong_token' });
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

test('channel.requested in serving spawns a channel limited to the agent services, with the open timeout', async () => {
  const s = startSession();
  s.serve();
  const channel = s.request('s-1/ch-1', KS);
  const child = s.actor.getSnapshot().children['s-1/ch-1'];
  assert.ok(child, 'no channel child');
  const ctx = child.getSnapshot().context;
  assert.deepEqual(
    { id: ctx.id, target: ctx.target, allowedTargets: ctx.allowedTargets, openTimeoutMs: ctx.openTimeoutMs },
    { id: 's-1/ch-1', target: KS, allowedTargets: [KUBE, KS], openTimeoutMs: INPUT.channelOpenTimeoutMs },
  );
  assert.equal(channel.opens.length, 1, 'the channel io was asked to open');
  channel.lastOpen().resolve();
  await reach(child, (snap) => snap.value === 'open');
  assert.equal(channel.piping, true);
  // The session ending ends its channels.
  s.ssh.sendBack({ type: 'ssh.closed', reason: 'agent went away' });
  assert.equal(channel.piping, false);
});

test('served then ended: the output names the cluster, the code says it served, the reason why it ended', () => {
  const s = startSession();
  s.serve();
  s.actor.send({ type: 'stop', reason: 'cluster removed' });
  s.ssh.sendBack({ type: 'ssh.closed', reason: 'closed by proxy' });
  assert.deepEqual(s.actor.getSnapshot().output, { clusterName: 'member-1', code: 'accepted', reason: 'cluster removed' });
});

test('timeouts end with their own codes', () => {
  const handshake = startSession();
  handshake.clock.increment(INPUT.handshakeTimeoutMs);
  handshake.clock.increment(CLOSE_FALLBACK_MS);
  assert.equal(handshake.actor.getSnapshot().output?.code, 'handshake_timeout');
  const config = startSession();
  config.ssh.sendBack({ type: 'ssh.ready' });
  config.clock.increment(INPUT.configTimeoutMs);
  config.clock.increment(CLOSE_FALLBACK_MS);
  assert.equal(config.actor.getSnapshot().output?.code, 'config_timeout');
});

test('channel.requested outside serving spawns nothing', async () => {
  const drivers: Record<string, (s: ReturnType<typeof startSession>) => void> = {
    handshaking: () => {},
    awaitingConfig: (s) => s.ssh.sendBack({ type: 'ssh.ready' }),
    rejecting: (s) => {
      s.ssh.sendBack({ type: 'ssh.ready' });
      s.ssh.sendBack({ type: 'config.rejected', reason: 'bad token', code: 'wrong_token' });
    },
    closing: (s) => {
      s.serve();
      s.actor.send({ type: 'stop', reason: 'bye' });
    },
  };
  for (const [state, drive] of Object.entries(drivers)) {
    const s = startSession();
    drive(s);
    const channel = s.request('ch-x', KUBE);
    await settle();
    assert.equal(s.actor.getSnapshot().children['ch-x'], undefined, state);
    assert.equal(channel.opens.length, 0, state);
    s.actor.stop();
  }
});

test('finished channels do not pile up in the session', async () => {
  const s = startSession();
  s.serve();
  for (let i = 1; i <= 3; i += 1) {
    const id = `s-1/ch-${i}`;
    const channel = s.request(id, KUBE);
    const child = s.actor.getSnapshot().children[id];
    assert.ok(child);
    channel.lastOpen().resolve();
    await reach(child, (snap) => snap.value === 'open');
    channel.endPipe({ bytesIn: 10, bytesOut: 20 });
  }
  // A refused and a failed one too.
  const refused = s.request('s-1/ch-bad', '127.0.0.1:22');
  assert.deepEqual(refused.state.refused, ['target 127.0.0.1:22 is not allowed']);
  const fail = s.request('s-1/ch-fail', KS);
  const failing = s.actor.getSnapshot().children['s-1/ch-fail'];
  assert.ok(failing);
  fail.lastOpen().reject(new Error('agent refused the channel'));
  await reach(failing, (snap) => snap.status === 'done');
  assert.equal(failing.getSnapshot().value, 'failed');
  assert.deepEqual(Object.keys(s.actor.getSnapshot().children), ['ssh'], 'finished channel actors are still held by the session');
  assert.equal(s.value(), 'serving');
  s.actor.stop();
});
