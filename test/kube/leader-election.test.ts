/**
 * Leader election against the devcluster's real coordination.k8s.io/v1 Lease API.
 * Short timings: a 2 s lease (written as leaseDurationSeconds 2), 0.5 s renew deadline,
 * 0.1 s retry period.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { KubeClient, KubeError } from '../../src/kube/kube-client.js';
import { silentLogger } from '../../src/log.js';
import { startLeaderElection, type LeaderElection } from '../../src/actors/kube/leader-election.js';
import { until } from '../helpers/wait.js';

const TIMINGS = { leaseDurationMs: 2_000, renewDeadlineMs: 500, retryPeriodMs: 100 };
const LEASE_PATH = '/apis/coordination.k8s.io/v1/namespaces/kubesphere-system/leases/tower';
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
/** Bound of every wait that should take a few retry periods. */
const WAIT_MS = 5_000;

interface Lease {
  metadata: { resourceVersion: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

interface Elector {
  readonly election: LeaderElection;
  readonly identity: string;
  started: number;
  stopped: number;
}

async function startCluster(t: TestContext): Promise<{ dc: DevCluster; client: KubeClient }> {
  const dc = await startDevCluster({ name: 'leader-election' });
  t.after(() => dc.stop());
  return { dc, client: KubeClient.fromString(dc.adminKubeconfig) };
}

function elect(t: TestContext, client: KubeClient, identity: string): Elector {
  const elector: Elector = {
    identity,
    started: 0,
    stopped: 0,
    election: startLeaderElection({
      client,
      identity,
      logger: silentLogger(),
      ...TIMINGS,
      onStartedLeading: () => void (elector.started += 1),
      onStoppedLeading: () => void (elector.stopped += 1),
    }),
  };
  t.after(() => elector.election.stop());
  return elector;
}

/** Wait (bounded) until `check` holds, re-checking on every snapshot of the electors. */
function whenever(electors: readonly Elector[], check: () => boolean, what: string): Promise<void> {
  return until(
    check,
    (onChange) => {
      const subs = electors.map((e) => e.election.actor.subscribe(onChange));
      return () => subs.forEach((s) => s.unsubscribe());
    },
    what,
    WAIT_MS,
  );
}

function getLease(client: KubeClient): Promise<Lease> {
  return client.json<Lease>({ method: 'GET', path: LEASE_PATH });
}

/** Count a leader's successful renewals (each writes a new renewTime). */
function countRenewals(e: Elector): { readonly count: number; stop(): void } {
  let last = e.election.actor.getSnapshot().context.lastRenewAt;
  const counter = { count: 0, stop: () => sub.unsubscribe() };
  const sub = e.election.actor.subscribe((s) => {
    if (s.context.lastRenewAt === last) return;
    last = s.context.lastRenewAt;
    counter.count += 1;
  });
  return counter;
}

function kubectl(dc: DevCluster, t: TestContext, args: string[]): Promise<string> {
  return (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'leader-election-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = await dc.writeKubeconfig(join(dir, 'kubeconfig'));
    return new Promise<string>((resolve, reject) => {
      execFile(
        'kubectl',
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
        { timeout: 30_000, env: { ...process.env, HOME: dir } },
        (error, stdout, stderr) => (error ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)),
      );
    });
  })();
}

test('of two electors exactly one leads, and the other stays a candidate while the lease is renewed', async (t) => {
  const { dc, client } = await startCluster(t);
  const electors = [elect(t, client, 'tower-a'), elect(t, client, 'tower-b')];
  await whenever(electors, () => electors.some((e) => e.election.isLeader()), 'a leader');
  const leader = electors.find((e) => e.election.isLeader())!;
  const follower = electors.find((e) => e !== leader)!;
  await whenever(electors, () => follower.election.actor.getSnapshot().context.holder === leader.identity, 'the follower to see the leader');

  // Watch for longer than a lease duration: the follower must not take a lease kept fresh.
  const renewals = countRenewals(leader);
  await whenever(electors, () => renewals.count >= 25, '25 renewals (2.5 s)');
  renewals.stop();
  assert.deepEqual(
    electors.map((e) => [e.identity, e.election.isLeader(), e.started, e.stopped]),
    electors.map((e) => [e.identity, e === leader, e === leader ? 1 : 0, 0]),
  );

  const lease = await getLease(client);
  assert.equal(lease.spec.holderIdentity, leader.identity);
  assert.equal(lease.spec.leaseDurationSeconds, 2);
  assert.equal(lease.spec.leaseTransitions, 0);
  assert.match(lease.spec.acquireTime ?? '', MICRO_TIME);
  assert.match(lease.spec.renewTime ?? '', MICRO_TIME);
  assert.ok(lease.spec.renewTime! > lease.spec.acquireTime!, 'renewals move renewTime on');
  assert.equal(
    await kubectl(dc, t, ['get', 'lease', 'tower', '-n', 'kubesphere-system', '-o', 'jsonpath={.spec.holderIdentity}']),
    leader.identity,
  );
});

test('stop releases the lease (holderIdentity empty, leaseDurationSeconds 1) after onStoppedLeading', async (t) => {
  const { client } = await startCluster(t);
  const a = elect(t, client, 'tower-a');
  await whenever([a], () => a.election.isLeader(), 'tower-a to lead');
  await a.election.stop();
  assert.equal(a.election.isLeader(), false);
  assert.equal(a.election.actor.getSnapshot().status, 'done');
  assert.deepEqual([a.started, a.stopped], [1, 1]);
  const lease = await getLease(client);
  assert.equal(lease.spec.holderIdentity, '');
  assert.equal(lease.spec.leaseDurationSeconds, 1);
  assert.equal(lease.spec.leaseTransitions, 0);
  await a.election.stop(); // idempotent
});

test('when the leader stops, the other takes over promptly (well within a lease duration)', async (t) => {
  const { client } = await startCluster(t);
  const electors = [elect(t, client, 'tower-a'), elect(t, client, 'tower-b')];
  await whenever(electors, () => electors.some((e) => e.election.isLeader()), 'a leader');
  const leader = electors.find((e) => e.election.isLeader())!;
  const follower = electors.find((e) => e !== leader)!;
  await whenever(electors, () => follower.election.actor.getSnapshot().context.holder === leader.identity, 'the follower to see the leader');

  const stoppedAt = performance.now();
  await leader.election.stop();
  await whenever(electors, () => follower.election.isLeader(), 'the follower to take over');
  const tookMs = performance.now() - stoppedAt;
  // Without the release the follower would wait a full lease duration (2 s) of silence.
  assert.ok(tookMs < TIMINGS.leaseDurationMs / 2, `took over after ${Math.round(tookMs)} ms`);
  assert.deepEqual([leader.started, leader.stopped, follower.started, follower.stopped], [1, 1, 1, 0]);
  const lease = await getLease(client);
  assert.equal(lease.spec.holderIdentity, follower.identity);
  assert.equal(lease.spec.leaseTransitions, 1);
});

test('a leader whose lease is taken over stops leading at its next renew, and takes it back only after a lease duration of silence', async (t) => {
  const { client } = await startCluster(t);
  const a = elect(t, client, 'tower-a');
  await whenever([a], () => a.election.isLeader(), 'tower-a to lead');

  // Another holder writes the lease with a fresh renewTime (and then never renews).
  let takenAt = 0;
  for (let attempt = 0; ; attempt += 1) {
    const lease = await getLease(client);
    const now = new Date().toISOString().replace('Z', '000Z');
    takenAt = performance.now();
    try {
      await client.json({
        method: 'PUT',
        path: LEASE_PATH,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', acquireTime: now, renewTime: now, leaseDurationSeconds: 2 } },
      });
      break;
    } catch (error) {
      // tower-a renewed in between: read again (bounded).
      if (!(error instanceof KubeError && error.code === 409) || attempt >= 20) throw error;
    }
  }

  await whenever([a], () => a.stopped === 1, 'tower-a to stop leading');
  assert.equal(a.election.isLeader(), false);
  assert.equal(a.election.actor.getSnapshot().context.lastError, 'lease taken by intruder');

  await whenever([a], () => a.election.isLeader(), 'tower-a to lead again once the intruder lease expired');
  const tookMs = performance.now() - takenAt;
  // Judged by tower-a's own clock from when it saw the change, never earlier than that.
  assert.ok(tookMs >= TIMINGS.leaseDurationMs - 50, `re-acquired after only ${Math.round(tookMs)} ms`);
  assert.deepEqual([a.started, a.stopped], [2, 1]);
  const lease = await getLease(client);
  assert.equal(lease.spec.holderIdentity, 'tower-a');
  assert.equal(lease.spec.leaseTransitions, 1);
});

test('a leader that cannot reach the API server stops leading after the renew deadline', async (t) => {
  const { dc, client } = await startCluster(t);
  const a = elect(t, client, 'tower-a');
  await whenever([a], () => a.election.isLeader(), 'tower-a to lead');
  await dc.stop();

  await whenever([a], () => a.stopped === 1, 'tower-a to stop leading');
  const { context } = a.election.actor.getSnapshot();
  assert.equal(a.election.isLeader(), false);
  assert.match(context.lastError ?? '', /^renew deadline passed; last error: renew: .*ECONNREFUSED/);
  // Still trying as a candidate, and stop is bounded even though nothing answers.
  await whenever([a], () => a.election.actor.getSnapshot().matches('candidate'), 'tower-a to be a candidate again');
  await a.election.stop();
  assert.equal(a.election.actor.getSnapshot().status, 'done');
  assert.deepEqual([a.started, a.stopped], [1, 1]);
});
