import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import {
  checkLeaderElectionTimings,
  leaderElectionMachine,
  type AcquireResult,
  type LeaderElectionInput,
  type LeaseActorInput,
  type RenewResult,
} from '../../src/machines/leader-election.js';
import { promiseStub, reach, settle } from './stubs.js';

const INPUT: LeaderElectionInput = { identity: 'tower-a', leaseDurationMs: 30_000, renewDeadlineMs: 15_000, retryPeriodMs: 5_000 };

function startElection() {
  const clock = new SimulatedClock();
  const tryAcquire = promiseStub<AcquireResult, LeaseActorInput>();
  const renew = promiseStub<RenewResult, LeaseActorInput>();
  const release = promiseStub<void, LeaseActorInput>();
  /** Callbacks and lease calls, in the order they happened. */
  const log: string[] = [];
  const machine = leaderElectionMachine.provide({
    actors: { tryAcquire: tryAcquire.logic, renew: renew.logic, release: release.logic },
    actions: {
      onStartedLeading: () => void log.push('started'),
      onStoppedLeading: () => void log.push('stopped'),
    },
  });
  const actor = createActor(machine, { clock, input: INPUT });
  actor.start();
  const count = (entry: string) => log.filter((e) => e === entry).length;
  return {
    actor,
    clock,
    tryAcquire,
    renew,
    release,
    log,
    started: () => count('started'),
    stopped: () => count('stopped'),
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
    /** Answer the pending acquire with `acquired` and wait until leading. */
    async lead() {
      tryAcquire.last().resolve({ acquired: true, holder: INPUT.identity, renewTime: `t${tryAcquire.calls.length}` });
      await reach(actor, (s) => s.matches('leading'));
    },
  };
}

type Election = ReturnType<typeof startElection>;

/** Let one retry period pass, then answer the renew it started with `outcome`. */
async function renewRound(e: Election, outcome: RenewResult | Error): Promise<void> {
  const before = e.renew.calls.length;
  e.clock.increment(INPUT.retryPeriodMs);
  assert.equal(e.renew.calls.length, before + 1, 'a renew starts after each retry period');
  assert.deepEqual(e.value(), { leading: { renewed: 'renewing' } });
  if (outcome instanceof Error) e.renew.last().reject(outcome);
  else e.renew.last().resolve(outcome);
  await reach(e.actor, (s) => s.matches({ leading: { renewed: 'waiting' } }) || !s.matches('leading'));
}

test('a candidate retries every retry period until it acquires, then leads (onStartedLeading once)', async () => {
  const e = startElection();
  assert.deepEqual(e.value(), { candidate: 'acquiring' });
  assert.deepEqual(e.tryAcquire.last().input, { identity: 'tower-a', leaseDurationMs: 30_000 });

  e.tryAcquire.last().resolve({ acquired: false, holder: 'tower-b' });
  await reach(e.actor, (s) => s.matches({ candidate: 'waiting' }));
  assert.equal(e.context().holder, 'tower-b');
  assert.equal(e.context().failures, 0);
  e.clock.increment(INPUT.retryPeriodMs - 1);
  assert.equal(e.tryAcquire.calls.length, 1, 'no attempt before the retry period');
  e.clock.increment(1);
  assert.equal(e.tryAcquire.calls.length, 2);

  e.tryAcquire.last().reject(new Error('GET lease: ECONNREFUSED'));
  await reach(e.actor, (s) => s.matches({ candidate: 'waiting' }));
  assert.equal(e.context().failures, 1);
  assert.equal(e.context().lastError, 'acquire: GET lease: ECONNREFUSED');
  e.clock.increment(INPUT.retryPeriodMs);
  assert.equal(e.tryAcquire.calls.length, 3);

  await e.lead();
  assert.deepEqual(e.value(), { leading: { renewed: 'waiting' } });
  const c = e.context();
  assert.equal(c.holder, 'tower-a');
  assert.equal(c.lastRenewAt, 't3');
  assert.equal(c.failures, 0);
  assert.equal(c.lastError, undefined);
  assert.equal(c.terms, 1);
  assert.deepEqual(e.log, ['started']);
  e.actor.stop();
});

test('an acquire that does not answer within the renew deadline is abandoned and retried', async () => {
  const e = startElection();
  e.clock.increment(INPUT.renewDeadlineMs);
  assert.deepEqual(e.value(), { candidate: 'waiting' });
  assert.equal(e.tryAcquire.calls[0]!.signal.aborted, true);
  assert.equal(e.context().lastError, 'acquire: timed out');
  e.clock.increment(INPUT.retryPeriodMs);
  assert.equal(e.tryAcquire.calls.length, 2);
  e.actor.stop();
});

test('renew failures within the renew deadline keep leading; a success restarts the deadline', async () => {
  const e = startElection();
  await e.lead(); // t = 0: deadline at 15 s
  await renewRound(e, new Error('PUT lease: 500')); // t = 5 s
  assert.equal(e.context().failures, 1);
  assert.equal(e.context().lastError, 'renew: PUT lease: 500');
  await renewRound(e, { renewed: true, renewTime: 'r2' }); // t = 10 s: deadline now at 25 s
  assert.equal(e.context().failures, 0);
  assert.equal(e.context().lastRenewAt, 'r2');
  await renewRound(e, new Error('timeout')); // t = 15 s
  await renewRound(e, new Error('timeout')); // t = 20 s
  e.clock.increment(INPUT.retryPeriodMs - 1); // t = 24.999 s: still within the deadline
  assert.ok(e.actor.getSnapshot().matches('leading'));
  assert.equal(e.context().failures, 2);
  assert.deepEqual(e.log, ['started'], 'leadership was kept throughout');
  e.actor.stop();
});

test('past the renew deadline → lost, onStoppedLeading once, then a candidate again', async () => {
  const e = startElection();
  await e.lead();
  await renewRound(e, new Error('ECONNREFUSED')); // t = 5 s
  e.clock.increment(INPUT.retryPeriodMs); // t = 10 s: the second renew hangs
  e.clock.increment(INPUT.renewDeadlineMs - 2 * INPUT.retryPeriodMs - 1);
  assert.deepEqual(e.value(), { leading: { renewed: 'renewing' } });
  e.clock.increment(1); // t = 15 s: the deadline
  assert.equal(e.value(), 'lost');
  assert.equal(e.renew.last().signal.aborted, true, 'the pending renew is abandoned');
  assert.match(e.context().lastError ?? '', /^renew deadline passed; last error: renew: ECONNREFUSED/);
  assert.deepEqual(e.log, ['started', 'stopped']);

  e.clock.increment(INPUT.retryPeriodMs);
  assert.deepEqual(e.value(), { candidate: 'acquiring' });
  assert.equal(e.tryAcquire.calls.length, 2);
  // A late answer of the abandoned renew changes nothing.
  e.renew.calls.at(-1)!.resolve({ renewed: true });
  await settle();
  assert.deepEqual(e.value(), { candidate: 'acquiring' });
  assert.equal(e.stopped(), 1);
  e.actor.stop();
});

test('a renew that finds another holder → lost at once', async () => {
  const e = startElection();
  await e.lead();
  e.clock.increment(INPUT.retryPeriodMs);
  e.renew.last().resolve({ renewed: false, holder: 'tower-b' });
  await reach(e.actor, (s) => s.matches('lost'));
  assert.equal(e.context().holder, 'tower-b');
  assert.equal(e.context().lastError, 'lease taken by tower-b');
  assert.deepEqual(e.log, ['started', 'stopped']);
  e.actor.stop();
});

test('onStartedLeading and onStoppedLeading are called once per term', async () => {
  const e = startElection();
  for (let term = 1; term <= 3; term += 1) {
    await e.lead();
    assert.equal(e.context().terms, term);
    await renewRound(e, { renewed: true });
    await renewRound(e, { renewed: false });
    assert.equal(e.value(), 'lost');
    assert.equal(e.context().lastError, 'lease no longer names us');
    e.clock.increment(INPUT.retryPeriodMs);
  }
  assert.deepEqual(e.log, ['started', 'stopped', 'started', 'stopped', 'started', 'stopped']);
  e.actor.stop();
});

test('stop while leading: stop leading first, then release the lease, then stopped', async () => {
  const e = startElection();
  await e.lead();
  e.actor.send({ type: 'stop' });
  assert.equal(e.value(), 'releasing');
  assert.deepEqual(e.log, ['started', 'stopped'], 'serving stops before the lease is given up');
  assert.equal(e.release.calls.length, 1);
  assert.deepEqual(e.release.last().input, { identity: 'tower-a', leaseDurationMs: 30_000 });
  e.release.last().resolve();
  await reach(e.actor, (s) => s.status === 'done');
  assert.equal(e.value(), 'stopped');
  assert.equal(e.stopped(), 1);
});

test('stop while a renew is in flight abandons it and releases', async () => {
  const e = startElection();
  await e.lead();
  e.clock.increment(INPUT.retryPeriodMs);
  e.actor.send({ type: 'stop' });
  assert.equal(e.renew.last().signal.aborted, true);
  assert.equal(e.value(), 'releasing');
  e.release.last().reject(new Error('PUT lease: 409'));
  await reach(e.actor, (s) => s.status === 'done');
  assert.equal(e.context().lastError, 'release: PUT lease: 409');
  assert.deepEqual(e.log, ['started', 'stopped']);
});

test('a release that does not answer is given up after the renew deadline', async () => {
  const e = startElection();
  await e.lead();
  e.actor.send({ type: 'stop' });
  e.clock.increment(INPUT.renewDeadlineMs - 1);
  assert.equal(e.value(), 'releasing');
  e.clock.increment(1);
  assert.equal(e.value(), 'stopped');
  assert.equal(e.release.last().signal.aborted, true);
  assert.equal(e.context().lastError, 'release: timed out');
});

test('stop while waiting as a candidate stops at once, without releasing', async () => {
  const e = startElection();
  e.tryAcquire.last().resolve({ acquired: false, holder: 'tower-b' });
  await reach(e.actor, (s) => s.matches({ candidate: 'waiting' }));
  e.actor.send({ type: 'stop' });
  assert.equal(e.value(), 'stopped');
  assert.equal(e.release.calls.length, 0);
  assert.deepEqual(e.log, []);
});

test('stop while an acquire is in flight releases (the acquire may still land)', async () => {
  const e = startElection();
  e.actor.send({ type: 'stop' });
  assert.equal(e.value(), 'releasing');
  assert.equal(e.tryAcquire.last().signal.aborted, true);
  e.release.last().resolve();
  await reach(e.actor, (s) => s.status === 'done');
  assert.deepEqual(e.log, [], 'never led, so no callbacks');
});

test('stop while lost stops at once', async () => {
  const e = startElection();
  await e.lead();
  e.clock.increment(INPUT.retryPeriodMs);
  e.renew.last().resolve({ renewed: false, holder: 'tower-b' });
  await reach(e.actor, (s) => s.matches('lost'));
  e.actor.send({ type: 'stop' });
  assert.equal(e.value(), 'stopped');
  assert.equal(e.release.calls.length, 0);
  assert.deepEqual(e.log, ['started', 'stopped']);
});

test('timings are checked as client-go does', () => {
  assert.doesNotThrow(() => checkLeaderElectionTimings(INPUT));
  assert.throws(() => checkLeaderElectionTimings({ ...INPUT, renewDeadlineMs: 30_000 }), /lease duration .* must be greater than renew deadline/);
  assert.throws(() => checkLeaderElectionTimings({ ...INPUT, retryPeriodMs: 12_500 }), /must be greater than 1.2 × retry period/);
  assert.throws(() => checkLeaderElectionTimings({ ...INPUT, retryPeriodMs: 0 }), /retry period must be > 0/);
  assert.throws(() => checkLeaderElectionTimings({ ...INPUT, identity: '' }), /identity must not be empty/);
});
