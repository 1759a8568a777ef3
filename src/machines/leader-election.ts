/**
 * Leader election over a lease (`--leader-elect`), as client-go's leaderelection:
 *
 * candidate (acquiring ⇄ waiting) → leading (waiting ⇄ renewing) → lost → candidate …
 *                          stop ↘        stop ↘ releasing → stopped
 *
 * - candidate: try to acquire every `retryPeriodMs` (the `tryAcquire` actor reads the
 *   lease and takes it when it is free, expired or already ours).
 * - leading: renew every `retryPeriodMs`. A failed renew is retried; leadership is kept
 *   until `renewDeadlineMs` has passed since the last successful renew (or the acquire),
 *   then → lost. A renew that finds the lease held by someone else → lost at once.
 * - lost: unlike client-go, whose callers exit the process, we wait `retryPeriodMs` and
 *   become a candidate again, so a transient partition from the API server heals by itself.
 *   The owner stops serving in `onStoppedLeading` and starts again in `onStartedLeading`.
 * - stop: a leader first stops leading (`onStoppedLeading`, so nothing is served any
 *   more), then releases the lease (`release`, bounded by `renewDeadlineMs`) so another
 *   replica takes over at once instead of after a lease duration. A stop while an acquire
 *   is in flight releases too: that acquire may still land on the server.
 *
 * `onStartedLeading` / `onStoppedLeading` are the entry / exit of `leading`: exactly once
 * per term. Time passes only through delays (no clock reads here), so tests drive it with
 * SimulatedClock. Send `stop` rather than calling `actor.stop()`: stopping the actor does
 * not run exit actions, so `onStoppedLeading` would be skipped.
 */
import { assign, setup, type ActorRefFrom, type PromiseActorLogic } from 'xstate';

export interface LeaderElectionInput {
  /** Who we are in `spec.holderIdentity`; unique per process. */
  readonly identity: string;
  /** How long others wait, after the lease last changed, before taking it over. */
  readonly leaseDurationMs: number;
  /** How long a leader keeps leading without a successful renew. */
  readonly renewDeadlineMs: number;
  /** Pause between acquire attempts and between renewals. */
  readonly retryPeriodMs: number;
}

/** What the lease actors are given. */
export interface LeaseActorInput {
  readonly identity: string;
  readonly leaseDurationMs: number;
}

export interface AcquireResult {
  readonly acquired: boolean;
  /** The holder seen (ours when acquired); undefined when the lease is free or unknown. */
  readonly holder?: string;
  /** The renewTime written when acquired. */
  readonly renewTime?: string;
}

export type RenewResult =
  | { readonly renewed: true; readonly renewTime?: string }
  /** The lease is gone or names another holder: leadership is over now, not at the deadline. */
  | { readonly renewed: false; readonly holder?: string };

export interface LeaderElectionContext extends LeaderElectionInput {
  /** The holder last seen; our identity while leading. */
  readonly holder: string | undefined;
  /** renewTime of our last successful acquire or renew, as written to the lease. */
  readonly lastRenewAt: string | undefined;
  /** Consecutive failed acquire or renew attempts. */
  readonly failures: number;
  readonly lastError: string | undefined;
  /** Terms led so far. */
  readonly terms: number;
}

export type LeaderElectionEvent = { type: 'stop' };

/** client-go's JitterFactor: renewDeadline must exceed retryPeriod by this much. */
const JITTER_FACTOR = 1.2;

/** Throws when the timings cannot work (client-go's checks in NewLeaderElector). */
export function checkLeaderElectionTimings(input: LeaderElectionInput): void {
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = input;
  if (!(retryPeriodMs > 0)) throw new Error(`leader election: retry period must be > 0 (got ${retryPeriodMs} ms)`);
  if (!(leaseDurationMs > renewDeadlineMs))
    throw new Error(`leader election: lease duration (${leaseDurationMs} ms) must be greater than renew deadline (${renewDeadlineMs} ms)`);
  if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs))
    throw new Error(
      `leader election: renew deadline (${renewDeadlineMs} ms) must be greater than ${JITTER_FACTOR} × retry period (${retryPeriodMs} ms)`,
    );
  if (!input.identity) throw new Error('leader election: identity must not be empty');
}

const leaseInput = ({ context }: { context: LeaderElectionContext }): LeaseActorInput => ({
  identity: context.identity,
  leaseDurationMs: context.leaseDurationMs,
});

export const leaderElectionMachine = setup({
  types: {
    input: {} as LeaderElectionInput,
    context: {} as LeaderElectionContext,
    events: {} as LeaderElectionEvent,
  },
  actors: {
    /** Read the lease and take it if free, expired or ours. */
    tryAcquire: {} as PromiseActorLogic<AcquireResult, LeaseActorInput>,
    /** Write a fresh renewTime; rejects on a transient failure. */
    renew: {} as PromiseActorLogic<RenewResult, LeaseActorInput>,
    /** Give the lease up if we still hold it. */
    release: {} as PromiseActorLogic<void, LeaseActorInput>,
  },
  delays: {
    retryPeriod: ({ context }) => context.retryPeriodMs,
    renewDeadline: ({ context }) => context.renewDeadlineMs,
    /** An acquire that takes longer than a renew deadline is abandoned and retried. */
    attemptTimeout: ({ context }) => context.renewDeadlineMs,
    releaseTimeout: ({ context }) => context.renewDeadlineMs,
  },
  guards: {
    // Named for the diagrams; the outcome comes from the actor's output.
    leaseAcquired: (_, params: { acquired: boolean }) => params.acquired,
    leaseRenewed: (_, params: { renewed: boolean }) => params.renewed,
  },
  actions: {
    /** Provided by the owner: start serving. */
    onStartedLeading: () => {},
    /** Provided by the owner: stop serving. */
    onStoppedLeading: () => {},
    recordFailure: assign({
      failures: ({ context }) => context.failures + 1,
      lastError: (_, params: { error: string }) => params.error,
    }),
  },
}).createMachine({
  id: 'leaderElection',
  context: ({ input }) => ({ ...input, holder: undefined, lastRenewAt: undefined, failures: 0, lastError: undefined, terms: 0 }),
  initial: 'candidate',
  on: { stop: '.stopped' },
  states: {
    candidate: {
      initial: 'acquiring',
      states: {
        acquiring: {
          on: { stop: '#leaderElection.releasing' },
          invoke: {
            src: 'tryAcquire',
            input: leaseInput,
            onDone: [
              {
                guard: { type: 'leaseAcquired', params: ({ event }) => ({ acquired: event.output.acquired }) },
                target: '#leaderElection.leading',
                actions: assign({
                  holder: ({ context }) => context.identity,
                  lastRenewAt: ({ event }) => event.output.renewTime,
                  failures: 0,
                  lastError: undefined,
                  terms: ({ context }) => context.terms + 1,
                }),
              },
              { target: 'waiting', actions: assign({ holder: ({ event }) => event.output.holder, failures: 0, lastError: undefined }) },
            ],
            onError: {
              target: 'waiting',
              actions: { type: 'recordFailure', params: ({ event }) => ({ error: `acquire: ${errorMessage(event.error)}` }) },
            },
          },
          after: {
            attemptTimeout: { target: 'waiting', actions: { type: 'recordFailure', params: { error: 'acquire: timed out' } } },
          },
        },
        waiting: { after: { retryPeriod: 'acquiring' } },
      },
    },
    leading: {
      entry: 'onStartedLeading',
      exit: 'onStoppedLeading',
      on: { stop: 'releasing' },
      initial: 'renewed',
      states: {
        // Entered on acquire and re-entered on each successful renew: the deadline timer
        // below therefore always runs from the last success.
        renewed: {
          after: {
            renewDeadline: {
              target: '#leaderElection.lost',
              actions: assign({ lastError: ({ context }) => `renew deadline passed; last error: ${context.lastError ?? 'none (renew not answered)'}` }),
            },
          },
          initial: 'waiting',
          states: {
            waiting: { after: { retryPeriod: 'renewing' } },
            renewing: {
              invoke: {
                src: 'renew',
                input: leaseInput,
                onDone: [
                  {
                    guard: { type: 'leaseRenewed', params: ({ event }) => ({ renewed: event.output.renewed }) },
                    target: '#leaderElection.leading.renewed',
                    reenter: true,
                    actions: assign({
                      lastRenewAt: ({ context, event }) => (event.output.renewed ? event.output.renewTime : context.lastRenewAt),
                      failures: 0,
                      lastError: undefined,
                    }),
                  },
                  {
                    target: '#leaderElection.lost',
                    actions: assign({
                      holder: ({ event }) => (event.output.renewed ? undefined : event.output.holder),
                      lastError: ({ event }) =>
                        !event.output.renewed && event.output.holder ? `lease taken by ${event.output.holder}` : 'lease no longer names us',
                    }),
                  },
                ],
                onError: {
                  target: 'waiting',
                  actions: { type: 'recordFailure', params: ({ event }) => ({ error: `renew: ${errorMessage(event.error)}` }) },
                },
              },
            },
          },
        },
      },
    },
    lost: { after: { retryPeriod: 'candidate' } },
    releasing: {
      invoke: {
        src: 'release',
        input: leaseInput,
        onDone: 'stopped',
        onError: {
          target: 'stopped',
          actions: { type: 'recordFailure', params: ({ event }) => ({ error: `release: ${errorMessage(event.error)}` }) },
        },
      },
      after: { releaseTimeout: { target: 'stopped', actions: { type: 'recordFailure', params: { error: 'release: timed out' } } } },
    },
    stopped: { type: 'final' },
  },
});

export type LeaderElectionActor = ActorRefFrom<typeof leaderElectionMachine>;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
