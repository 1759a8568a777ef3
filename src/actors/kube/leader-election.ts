/**
 * The leader-election machine with its I/O: the Lease (lease-lock.ts), the owner's
 * callbacks, and a log line for each change a person would want to know about.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createActor, fromPromise, waitFor, type InspectionEvent } from 'xstate';
import type { KubeClient } from '../../kube/kube-client.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { errorMessage } from '../../errors.js';
import { LeaseLock } from './lease-lock.js';
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
  /** Lease writes are counted here (`tower_controller_writes_total{resource="lease"}`). */
  readonly metrics?: ProxyMetrics;
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
  const namespace = options.namespace ?? DEFAULT_LEASE_NAMESPACE;
  const name = options.name ?? DEFAULT_LEASE_NAME;
  const lock = new LeaseLock(options.client, namespace, name, input.identity, (reason) =>
    options.metrics?.writes.inc({ resource: 'lease', cluster: '', reason }),
  );
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
    log.error({ error: errorMessage(error) }, `${name} threw`);
  }
}

