/**
 * The I/O of the leader-election machine: a coordination.k8s.io/v1 Lease used as
 * client-go's resourcelock.LeaseLock does (holderIdentity, leaseDurationSeconds,
 * acquireTime, renewTime, leaseTransitions), written with optimistic concurrency
 * (resourceVersion; 409 Conflict means someone else wrote first).
 *
 * Expiry is judged by OUR clock: we note when we first saw the lease's spec in its current
 * form (client-go's observedTime) and consider it expired `leaseDurationSeconds` after
 * that, never trusting the remote renewTime against our clock.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createActor, fromPromise, waitFor, type InspectionEvent } from 'xstate';
import { KubeError, type KubeClient } from '../../kube/kube-client.js';
import type { Logger } from '../../log.js';
import {
  checkLeaderElectionTimings,
  leaderElectionMachine,
  type AcquireResult,
  type LeaderElectionActor,
  type LeaseActorInput,
  type RenewResult,
} from '../../machines/leader-election.js';

export interface LeaderElectionOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  /** Default: `<hostname>_<random uuid>`. */
  readonly identity?: string;
  /** Default `kubesphere-system`. */
  readonly namespace?: string;
  /** Default `tower`. */
  readonly name?: string;
  /** Default 30 s. Written as whole seconds (rounded up). */
  readonly leaseDurationMs?: number;
  /** Default 15 s. */
  readonly renewDeadlineMs?: number;
  /** Default 5 s. */
  readonly retryPeriodMs?: number;
  /** Start serving; called once per term. */
  readonly onStartedLeading: () => void;
  /** Stop serving; called once per term, before the lease is released. */
  readonly onStoppedLeading: () => void;
  readonly inspect?: (event: InspectionEvent) => void;
}

export interface LeaderElection {
  readonly actor: LeaderElectionActor;
  readonly identity: string;
  isLeader(): boolean;
  /** Stop leading (if leading), release the lease (bounded), end the actor. */
  stop(): Promise<void>;
}

export const DEFAULT_LEASE_NAMESPACE = 'kubesphere-system';
export const DEFAULT_LEASE_NAME = 'tower';

export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const { logger } = options;
  const input = {
    identity: options.identity ?? defaultIdentity(),
    leaseDurationMs: options.leaseDurationMs ?? 30_000,
    renewDeadlineMs: options.renewDeadlineMs ?? 15_000,
    retryPeriodMs: options.retryPeriodMs ?? 5_000,
  };
  checkLeaderElectionTimings(input);
  const lock = new LeaseLock(options.client, options.namespace ?? DEFAULT_LEASE_NAMESPACE, options.name ?? DEFAULT_LEASE_NAME, input.identity);
  const log = logger.child({ lease: `${lock.namespace}/${lock.name}`, identity: input.identity });

  const machine = leaderElectionMachine.provide({
    actors: {
      tryAcquire: fromPromise<AcquireResult, LeaseActorInput>(({ input }) => lock.tryAcquire(input.leaseDurationMs)),
      renew: fromPromise<RenewResult, LeaseActorInput>(() => lock.renew()),
      release: fromPromise<void, LeaseActorInput>(() => lock.release()),
    },
    actions: {
      // The owner's callbacks must not take the elector down with them.
      onStartedLeading: () => guard(log, 'onStartedLeading', options.onStartedLeading),
      onStoppedLeading: () => guard(log, 'onStoppedLeading', options.onStoppedLeading),
    },
  });
  const actor = createActor(machine, { id: 'leaderElection', input, ...(options.inspect ? { inspect: options.inspect } : {}) });

  let previous = { leading: false, holder: undefined as string | undefined, failures: 0 };
  actor.subscribe((snapshot) => {
    const { holder, failures, lastError } = snapshot.context;
    const leading = snapshot.matches('leading');
    if (leading && !previous.leading) log.info('Acquired the lease: leading');
    if (snapshot.matches('lost') && previous.leading) log.warn({ error: lastError }, 'Lost the lease');
    if (snapshot.matches('candidate') && holder && holder !== previous.holder) log.info({ holder }, 'The lease is held by another replica');
    if (failures > previous.failures && !snapshot.matches('stopped')) log.warn({ error: lastError, failures }, 'Leader election attempt failed; retrying');
    previous = { leading, holder, failures };
  });
  actor.start();

  let stopping: Promise<void> | undefined;
  return {
    actor,
    identity: input.identity,
    isLeader: () => actor.getSnapshot().matches('leading'),
    stop() {
      stopping ??= (async () => {
        actor.send({ type: 'stop' });
        // The machine bounds the release itself; this bound is only a safety net.
        await waitFor(actor, (s) => s.status !== 'active', { timeout: input.renewDeadlineMs + 1_000 }).catch(() => undefined);
        actor.stop();
        const { lastError } = actor.getSnapshot().context;
        log.info(lastError ? { error: lastError } : {}, 'Leader election stopped');
      })();
      return stopping;
    },
  };
}

function guard(log: Logger, name: string, callback: () => void): void {
  try {
    callback();
  } catch (error) {
    log.error({ error: error instanceof Error ? error.message : String(error) }, `${name} threw`);
  }
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [field: string]: unknown;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
  spec?: LeaseSpec;
}

/** One lease, one identity. Remembers the last object read or written (its resourceVersion). */
class LeaseLock {
  /** The last lease object the server gave us. */
  #lease: Lease | undefined;
  /** The lease spec as last seen, and when (our clock) it was first seen like that. */
  #observed: { spec: string; atMs: number } | undefined;
  /** The latest request sequence; release waits for it, since an abandoned one may still land. */
  #inflight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name: string,
    private readonly identity: string,
  ) {}

  get #collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  get #path(): string {
    return `${this.#collection}/${encodeURIComponent(this.name)}`;
  }

  tryAcquire(leaseDurationMs: number): Promise<AcquireResult> {
    return this.#track(this.#tryAcquire(Math.ceil(leaseDurationMs / 1000)));
  }

  renew(): Promise<RenewResult> {
    return this.#track(this.#renew());
  }

  async release(): Promise<void> {
    await this.#inflight;
    let lease = this.#lease;
    for (let attempt = 0; lease && holderOf(lease) === this.identity; attempt += 1) {
      const now = microTime();
      const spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
      try {
        await this.#put(lease, spec);
        return;
      } catch (error) {
        if (!isCode(error, 409) || attempt > 0) throw error;
        lease = await this.#get();
      }
    }
  }

  async #tryAcquire(leaseDurationSeconds: number): Promise<AcquireResult> {
    let lease: Lease;
    try {
      lease = await this.#get();
    } catch (error) {
      if (!isCode(error, 404)) throw error;
      return this.#create(leaseDurationSeconds);
    }
    const holder = holderOf(lease);
    if (holder && holder !== this.identity && !this.#expired(lease)) return { acquired: false, holder };
    const now = microTime();
    const ours = holder === this.identity;
    const spec: LeaseSpec = {
      ...lease.spec,
      holderIdentity: this.identity,
      leaseDurationSeconds,
      acquireTime: ours ? (lease.spec?.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (ours ? 0 : 1),
    };
    try {
      await this.#put(lease, spec);
      return { acquired: true, holder: this.identity, renewTime: now };
    } catch (error) {
      // Another replica wrote first: it won this round.
      if (isCode(error, 409)) return { acquired: false, ...(holder ? { holder } : {}) };
      throw error;
    }
  }

  async #create(leaseDurationSeconds: number): Promise<AcquireResult> {
    const now = microTime();
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: { holderIdentity: this.identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
    };
    try {
      this.#remember(await this.client.json<Lease>({ method: 'POST', path: this.#collection, body: lease }));
      return { acquired: true, holder: this.identity, renewTime: now };
    } catch (error) {
      // AlreadyExists: another replica created it first.
      if (isCode(error, 409)) return { acquired: false };
      throw error;
    }
  }

  async #renew(): Promise<RenewResult> {
    let lease = this.#lease;
    for (let attempt = 0; ; attempt += 1) {
      try {
        lease ??= await this.#get();
      } catch (error) {
        if (isCode(error, 404)) return { renewed: false };
        throw error;
      }
      const holder = holderOf(lease);
      if (holder !== this.identity) return { renewed: false, ...(holder ? { holder } : {}) };
      const now = microTime();
      try {
        await this.#put(lease, { ...lease.spec, renewTime: now });
        return { renewed: true, renewTime: now };
      } catch (error) {
        // A write we did not expect: read the lease again and decide once more.
        if (!isCode(error, 409) || attempt > 0) throw error;
        lease = undefined;
      }
    }
  }

  async #get(): Promise<Lease> {
    const lease = await this.client.json<Lease>({ method: 'GET', path: this.#path });
    this.#remember(lease);
    return lease;
  }

  async #put(lease: Lease, spec: LeaseSpec): Promise<void> {
    this.#remember(await this.client.json<Lease>({ method: 'PUT', path: this.#path, body: { ...lease, spec } }));
  }

  #remember(lease: Lease): void {
    this.#lease = lease;
    const spec = JSON.stringify(lease.spec ?? {});
    if (this.#observed?.spec !== spec) this.#observed = { spec, atMs: Date.now() };
  }

  /** Not renewed for its duration since we saw it change, by our clock. */
  #expired(lease: Lease): boolean {
    const seenAt = this.#observed?.atMs ?? Date.now();
    return Date.now() >= seenAt + (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  }

  #track<T>(operation: Promise<T>): Promise<T> {
    this.#inflight = operation.catch(() => undefined);
    return operation;
  }
}

function holderOf(lease: Lease): string {
  return lease.spec?.holderIdentity ?? '';
}

function isCode(error: unknown, code: number): boolean {
  return error instanceof KubeError && error.code === code;
}

/** RFC 3339 with microseconds, as metav1.MicroTime: 2026-11-27T08:00:00.000000Z. */
function microTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
