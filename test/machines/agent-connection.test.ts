import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock, type ActorRefFrom, type AnyActorRef } from 'xstate';
import {
  agentConnectionMachine,
  type AgentConnectionEvent,
  type AgentConnectionInput,
  type AgentConnectionIo,
  type AgentSessionCommand,
} from '../../src/machines/agent-connection.js';
import { channelMachine } from '../../src/machines/channel.js';
import { fakeChannelIo, reach, settle } from './stubs.js';

const KUBE = '10.96.0.1:443';
const KS = 'ks-apiserver.kubesphere-system.svc:80';

const INPUT: Omit<AgentConnectionInput, 'io'> = {
  maxRetry: 0,
  backoff: { minMs: 1_000, maxMs: 8_000, factor: 1.4 },
  keepaliveMs: 5_000,
  keepaliveCountMax: 2,
  dialTimeoutMs: 10_000,
  allowedTargets: [KUBE, KS],
};

/** The attempts' io: the test drives the newest attempt and sees its commands. */
function fakeAttempts() {
  const received: AgentSessionCommand[] = [];
  let starts = 0;
  let stops = 0;
  let current: ((event: AgentConnectionEvent) => void) | undefined;
  const io: AgentConnectionIo = {
    attempt: ({ sendBack, receive }) => {
      starts += 1;
      current = sendBack;
      receive((command) => received.push(command));
      return () => {
        stops += 1;
        if (current === sendBack) current = undefined;
      };
    },
  };
  return {
    io,
    received,
    get starts() {
      return starts;
    },
    get stops() {
      return stops;
    },
    get running() {
      return current !== undefined;
    },
    sendBack(event: AgentConnectionEvent) {
      if (!current) throw new Error(`no attempt running to send ${event.type} from`);
      current(event);
    },
  };
}

function startConnection(overrides: Partial<AgentConnectionInput> = {}) {
  const clock = new SimulatedClock();
  const session = fakeAttempts();
  const actor = createActor(agentConnectionMachine, { clock, input: { ...INPUT, io: session.io, ...overrides } });
  actor.start();
  const channels: ReturnType<typeof fakeChannelIo>[] = [];
  return {
    actor,
    clock,
    session,
    channels,
    /** The proxy asks for a channel, with an io of its own. */
    request(id: string, target: string) {
      const channel = fakeChannelIo();
      channels.push(channel);
      actor.send({ type: 'channel.requested', id, target, io: channel.io });
      return channel;
    },
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
    /** Drive the current session attempt through to `connected`. */
    connect() {
      session.sendBack({ type: 'ws.open' });
      session.sendBack({ type: 'ssh.ready' });
      session.sendBack({ type: 'config.accepted' });
    },
  };
}

test('dialing → handshaking → configuring → connected', () => {
  const c = startConnection();
  assert.deepEqual(c.value(), { session: 'dialing' });
  assert.equal(c.session.starts, 1);
  c.session.sendBack({ type: 'ws.open' });
  assert.deepEqual(c.value(), { session: 'handshaking' });
  c.session.sendBack({ type: 'ssh.ready' });
  assert.deepEqual(c.value(), { session: 'configuring' });
  c.session.sendBack({ type: 'config.accepted' });
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  assert.equal(c.context().failures, 0);
  assert.equal(c.context().lastError, undefined);
  // One session actor for the whole attempt, still running.
  assert.equal(c.session.starts, 1);
  assert.equal(c.session.running, true);
  c.actor.stop();
});

test('events of a later step are ignored in an earlier one', () => {
  const c = startConnection();
  c.session.sendBack({ type: 'config.accepted' });
  c.session.sendBack({ type: 'ssh.ready' });
  assert.deepEqual(c.value(), { session: 'dialing' });
  c.actor.stop();
});

test('config.rejected → backoff with lastError and one failure; the session actor is stopped', () => {
  const c = startConnection();
  c.session.sendBack({ type: 'ws.open' });
  c.session.sendBack({ type: 'ssh.ready' });
  c.session.sendBack({ type: 'config.rejected', reason: 'proxy refused the agent: token mismatch' });
  assert.equal(c.value(), 'backoff');
  assert.equal(c.context().lastError, 'proxy refused the agent: token mismatch');
  assert.equal(c.context().failures, 1);
  assert.equal(c.session.running, false);
  assert.equal(c.session.stops, 1);
  c.actor.stop();
});

test('session.closed in any session step → backoff with its reason', () => {
  const steps: ((c: ReturnType<typeof startConnection>) => void)[] = [
    () => {},
    (c) => c.session.sendBack({ type: 'ws.open' }),
    (c) => {
      c.session.sendBack({ type: 'ws.open' });
      c.session.sendBack({ type: 'ssh.ready' });
    },
    (c) => c.connect(),
  ];
  for (const step of steps) {
    const c = startConnection();
    step(c);
    c.session.sendBack({ type: 'session.closed', reason: 'proxy closed the connection' });
    assert.equal(c.value(), 'backoff');
    assert.equal(c.context().lastError, 'proxy closed the connection');
    assert.equal(c.context().failures, 1);
    c.actor.stop();
  }
});

test('backoff waits within [step/2, step], the step growing ×1.4 per consecutive failure, then redials', () => {
  const c = startConnection();
  const steps = [1_000, 1_400, 1_960, 2_744, 3_842, 5_378, 7_530, 8_000, 8_000];
  for (const [i, step] of steps.entries()) {
    c.session.sendBack({ type: 'session.closed', reason: `failure ${i + 1}` });
    assert.equal(c.value(), 'backoff');
    assert.equal(c.context().failures, i + 1);
    const floor = Math.floor(step / 2) - 1;
    c.clock.increment(floor);
    assert.equal(c.value(), 'backoff', `attempt ${i + 1}: left backoff before step/2`);
    c.clock.increment(step - floor);
    assert.deepEqual(c.value(), { session: 'dialing' }, `attempt ${i + 1}: still in backoff after the full step`);
    assert.equal(c.session.starts, i + 2);
  }
  c.actor.stop();
});

test('wake cuts the backoff short', () => {
  const c = startConnection();
  c.session.sendBack({ type: 'session.closed', reason: 'dial: ECONNREFUSED' });
  c.clock.increment(100);
  assert.equal(c.value(), 'backoff');
  c.actor.send({ type: 'wake' });
  assert.deepEqual(c.value(), { session: 'dialing' });
  assert.equal(c.session.starts, 2);
  // The failure count is kept: a wake is not a success.
  assert.equal(c.context().failures, 1);
  // The cancelled retry timer does not fire later.
  c.session.sendBack({ type: 'ws.open' });
  c.clock.increment(10_000);
  assert.deepEqual(c.value(), { session: 'handshaking' });
  c.actor.stop();
});

test('wake outside backoff does nothing', () => {
  const c = startConnection();
  c.connect();
  c.actor.send({ type: 'wake' });
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  assert.equal(c.session.starts, 1);
  c.actor.stop();
});

test('--max-retry N: failed (final) after N consecutive failures, with the last error', () => {
  const c = startConnection({ maxRetry: 3 });
  for (let i = 1; i <= 2; i += 1) {
    c.session.sendBack({ type: 'session.closed', reason: `failure ${i}` });
    assert.equal(c.value(), 'backoff');
    c.clock.increment(INPUT.backoff!.maxMs);
    assert.deepEqual(c.value(), { session: 'dialing' });
  }
  c.session.sendBack({ type: 'ws.open' });
  c.session.sendBack({ type: 'ssh.ready' });
  c.session.sendBack({ type: 'config.rejected', reason: 'failure 3' });
  assert.equal(c.value(), 'failed');
  assert.equal(c.actor.getSnapshot().status, 'done');
  assert.equal(c.context().failures, 3);
  assert.equal(c.context().lastError, 'failure 3');
  assert.equal(c.session.running, false);
  // No more attempts.
  c.clock.increment(60_000);
  assert.equal(c.session.starts, 3);
});

test('--max-retry 1 fails on the first failure', () => {
  const c = startConnection({ maxRetry: 1 });
  c.session.sendBack({ type: 'session.closed', reason: 'bad URL' });
  assert.equal(c.value(), 'failed');
});

test('--max-retry 0 retries forever', () => {
  const c = startConnection({ maxRetry: 0 });
  for (let i = 1; i <= 50; i += 1) {
    c.session.sendBack({ type: 'session.closed', reason: `failure ${i}` });
    assert.equal(c.value(), 'backoff');
    c.clock.increment(INPUT.backoff!.maxMs);
  }
  assert.deepEqual(c.value(), { session: 'dialing' });
  assert.equal(c.context().failures, 50);
  c.actor.stop();
});

test('an accepted config resets the failures: only consecutive failures count towards --max-retry', () => {
  const c = startConnection({ maxRetry: 3 });
  for (let i = 1; i <= 2; i += 1) {
    c.session.sendBack({ type: 'session.closed', reason: `failure ${i}` });
    c.clock.increment(INPUT.backoff!.maxMs);
  }
  assert.equal(c.context().failures, 2);
  c.connect();
  assert.equal(c.context().failures, 0);
  assert.equal(c.context().lastError, undefined);
  // Two more failures: still below the limit, and the backoff restarts at the first step.
  c.session.sendBack({ type: 'session.closed', reason: 'failure after success' });
  assert.equal(c.context().failures, 1);
  c.clock.increment(1_000);
  assert.deepEqual(c.value(), { session: 'dialing' });
  c.session.sendBack({ type: 'session.closed', reason: 'again' });
  c.clock.increment(INPUT.backoff!.maxMs);
  assert.deepEqual(c.value(), { session: 'dialing' });
  assert.equal(c.context().failures, 2);
  c.session.sendBack({ type: 'session.closed', reason: 'third in a row' });
  assert.equal(c.value(), 'failed');
});

test('keepalive: a ping after keepaliveMs, pong returns to idle, and the next ping follows', () => {
  const c = startConnection();
  c.connect();
  c.clock.increment(INPUT.keepaliveMs - 1);
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  assert.deepEqual(c.session.received, []);
  c.clock.increment(1);
  assert.deepEqual(c.value(), { session: { connected: 'awaitingPong' } });
  assert.deepEqual(c.session.received, [{ type: 'ping' }]);
  c.clock.increment(INPUT.keepaliveMs - 1);
  c.session.sendBack({ type: 'pong' });
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  // The wait for the pong was cancelled by it.
  c.clock.increment(1);
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  c.clock.increment(INPUT.keepaliveMs - 2);
  assert.equal(c.session.received.length, 1);
  c.clock.increment(1);
  assert.deepEqual(c.session.received, [{ type: 'ping' }, { type: 'ping' }]);
  c.session.sendBack({ type: 'pong' });
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  assert.equal(c.context().failures, 0);
  assert.equal(c.context().missedPings, 0);
  c.actor.stop();
});

test('keepalive: keepaliveCountMax pings in a row unanswered → backoff with "keepalive" in lastError', () => {
  const c = startConnection();
  c.connect();
  c.clock.increment(INPUT.keepaliveMs);
  assert.deepEqual(c.session.received, [{ type: 'ping' }]);
  c.clock.increment(INPUT.keepaliveMs - 1);
  assert.deepEqual(c.value(), { session: { connected: 'awaitingPong' } });
  c.clock.increment(1);
  // The first ping went unanswered for an interval: one miss, another ping.
  assert.deepEqual(c.value(), { session: { connected: 'awaitingPong' } });
  assert.equal(c.context().missedPings, 1);
  assert.deepEqual(c.session.received, [{ type: 'ping' }, { type: 'ping' }]);
  c.clock.increment(INPUT.keepaliveMs);
  assert.equal(c.value(), 'backoff');
  assert.match(c.context().lastError ?? '', /keepalive/);
  assert.equal(c.context().failures, 1);
  assert.equal(c.session.running, false, 'the dead session is torn down');
  c.actor.stop();
});

test('keepalive: a late pong after a miss counts, and the misses start over', () => {
  const c = startConnection();
  c.connect();
  c.clock.increment(INPUT.keepaliveMs);
  c.clock.increment(INPUT.keepaliveMs);
  assert.equal(c.context().missedPings, 1);
  c.session.sendBack({ type: 'pong' });
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  assert.equal(c.context().missedPings, 0);
  c.clock.increment(INPUT.keepaliveMs);
  c.clock.increment(INPUT.keepaliveMs);
  assert.deepEqual(c.value(), { session: { connected: 'awaitingPong' } });
  c.actor.stop();
});

test('keepaliveMs 0 never pings', () => {
  const c = startConnection({ keepaliveMs: 0 });
  c.connect();
  for (let i = 0; i < 10; i += 1) c.clock.increment(60_000);
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  assert.deepEqual(c.session.received, []);
  c.actor.stop();
});

test('no ping before the session is connected', () => {
  const c = startConnection();
  c.session.sendBack({ type: 'ws.open' });
  c.session.sendBack({ type: 'ssh.ready' });
  c.clock.increment(INPUT.keepaliveMs * 3);
  assert.deepEqual(c.value(), { session: 'configuring' });
  assert.deepEqual(c.session.received, []);
  c.actor.stop();
});

test('stop → stopped (final) from every state, tearing the session down', () => {
  const drivers: Record<string, (c: ReturnType<typeof startConnection>) => void> = {
    dialing: () => {},
    handshaking: (c) => c.session.sendBack({ type: 'ws.open' }),
    configuring: (c) => {
      c.session.sendBack({ type: 'ws.open' });
      c.session.sendBack({ type: 'ssh.ready' });
    },
    idle: (c) => c.connect(),
    awaitingPong: (c) => {
      c.connect();
      c.clock.increment(INPUT.keepaliveMs);
    },
    backoff: (c) => c.session.sendBack({ type: 'session.closed', reason: 'gone' }),
  };
  for (const [name, drive] of Object.entries(drivers)) {
    const c = startConnection();
    drive(c);
    assert.ok(JSON.stringify(c.value()).includes(name), `${name}: got ${JSON.stringify(c.value())}`);
    c.actor.send({ type: 'stop' });
    assert.equal(c.value(), 'stopped', name);
    assert.equal(c.actor.getSnapshot().status, 'done', name);
    assert.equal(c.session.running, false, `${name}: session actor still running`);
    // Nothing is scheduled any more.
    c.clock.increment(10 * 60_000);
    assert.equal(c.value(), 'stopped', name);
    assert.equal(c.session.starts, 1, `${name}: no new attempt after stop`);
  }
});

test('channel.requested in connected spawns a channel child with id, target and the allowed targets', async () => {
  const c = startConnection();
  c.connect();
  const channel = c.request('ch-1', KUBE);
  const child = (c.actor.getSnapshot().children['ch-1'] as ActorRefFrom<typeof channelMachine> | undefined);
  assert.ok(child, 'no child ch-1');
  const snapshot = child.getSnapshot();
  assert.equal(snapshot.value, 'opening');
  assert.deepEqual(
    { id: snapshot.context.id, target: snapshot.context.target, allowedTargets: snapshot.context.allowedTargets },
    { id: 'ch-1', target: KUBE, allowedTargets: [KUBE, KS] },
  );
  assert.equal(snapshot.context.openTimeoutMs, INPUT.dialTimeoutMs);
  assert.equal(channel.opens.length, 1);
  channel.lastOpen().resolve();
  await reach(child, (s) => s.value === 'open');
  assert.equal(channel.piping, true);
  // The connection itself is unaffected.
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  c.actor.stop();
  assert.equal(channel.piping, false, 'stopping the connection stops its channels');
});

test('channel.requested for a target outside allowedTargets spawns a channel that refuses', () => {
  const c = startConnection();
  c.connect();
  const spawned: string[] = [];
  c.actor.system.inspect((event) => {
    if (event.type === '@xstate.snapshot' && (event.actorRef as AnyActorRef).id === 'ch-evil') spawned.push(String((event.snapshot as { value?: unknown }).value));
  });
  const evil = c.request('ch-evil', '169.254.169.254:80');
  assert.deepEqual(spawned, ['refused']);
  assert.deepEqual(evil.state.refused, ['target 169.254.169.254:80 is not allowed']);
  // Refused at once, and gone from the children.
  assert.equal((c.actor.getSnapshot().children['ch-evil'] as ActorRefFrom<typeof channelMachine> | undefined), undefined);
  assert.equal(evil.opens.length, 0);
  assert.deepEqual(c.value(), { session: { connected: 'idle' } });
  c.actor.stop();
});

test('channel.requested before connected spawns nothing', async () => {
  const c = startConnection();
  c.session.sendBack({ type: 'ws.open' });
  c.session.sendBack({ type: 'ssh.ready' });
  const early = c.request('ch-early', KUBE);
  await settle();
  assert.equal((c.actor.getSnapshot().children['ch-early'] as ActorRefFrom<typeof channelMachine> | undefined), undefined);
  assert.equal(early.opens.length, 0);
  c.actor.stop();
});

test('finished channels do not pile up in the connection', async () => {
  const c = startConnection();
  c.connect();
  for (let i = 1; i <= 3; i += 1) {
    const id = `channel-${i}`;
    const channel = c.request(id, KUBE);
    const child = (c.actor.getSnapshot().children[id] as ActorRefFrom<typeof channelMachine> | undefined);
    assert.ok(child);
    channel.lastOpen().resolve();
    await reach(child, (s) => s.value === 'open');
    channel.endPipe({ bytesIn: 100, bytesOut: 200 });
    assert.equal(child.getSnapshot().value, 'closed');
  }
  c.request('channel-refused', '127.0.0.1:22');
  const fail = c.request('channel-failed', KS);
  const failing = (c.actor.getSnapshot().children['channel-failed'] as ActorRefFrom<typeof channelMachine> | undefined);
  assert.ok(failing);
  fail.lastOpen().reject(new Error('connect ECONNREFUSED'));
  await reach(failing, (s) => s.status === 'done');
  assert.deepEqual(Object.keys(c.actor.getSnapshot().children), ['session'], 'finished channel actors are still held by the connection');
  c.actor.stop();
});

test('the channels of a session end with it', async () => {
  for (const end of ['session.closed', 'keepalive'] as const) {
    const c = startConnection();
    c.connect();
    const open = c.request('channel-open', KUBE);
    const piping = (c.actor.getSnapshot().children['channel-open'] as ActorRefFrom<typeof channelMachine> | undefined);
    assert.ok(piping);
    open.lastOpen().resolve();
    await reach(piping, (s) => s.value === 'open');
    const dialing = c.request('channel-dialing', KS).lastOpen();
    assert.equal(dialing.signal.aborted, false);

    if (end === 'session.closed') c.session.sendBack({ type: 'session.closed', reason: 'proxy closed the connection' });
    else {
      for (let i = 0; i <= INPUT.keepaliveCountMax; i += 1) c.clock.increment(INPUT.keepaliveMs);
    }
    assert.equal(c.value(), 'backoff', end);
    assert.equal(open.piping, false, `${end}: a channel of the ended session still pipes`);
    assert.equal(dialing.signal.aborted, true, `${end}: a channel of the ended session still dials`);
    assert.deepEqual(Object.keys(c.actor.getSnapshot().children), [], end);
    c.actor.stop();
  }
});
