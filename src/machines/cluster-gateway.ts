/**
 * Proxy side: the two listeners of one member cluster and the agent sessions behind them.
 *
 * idle → starting → serving → stopping → idle, and → removed when the cluster goes away.
 *
 * Listeners open with the first session and close when the last one leaves. A failed
 * listen (port taken) is retried with a delay while sessions remain.
 */
import { assign, setup, type AnyActorLogic } from 'xstate';

export interface ClusterGatewayInput {
  readonly clusterName: string;
  /** Which gateway this is, for the actor layer's shared implementations (unique per process). */
  readonly key: string;
  readonly retryListenMs: number;
}

export interface ClusterGatewayContext extends ClusterGatewayInput {
  /** Live sessions in arrival order; requests go round-robin over them. */
  readonly sessions: readonly string[];
  readonly lastError: string | undefined;
  readonly removed: boolean;
  /** `cluster.update` came while the listeners were opening with the old settings. */
  readonly updatePending: boolean;
}

export type ClusterGatewayEvent =
  | { type: 'session.add'; sessionId: string }
  | { type: 'session.remove'; sessionId: string }
  /** Ports, token or hosts changed: reopen listeners with the new settings. */
  | { type: 'cluster.update' }
  | { type: 'cluster.remove' };

export const clusterGatewayMachine = setup({
  types: {
    input: {} as ClusterGatewayInput,
    context: {} as ClusterGatewayContext,
    events: {} as ClusterGatewayEvent,
  },
  actors: {
    /** Promise actor: open both listeners (and fetch the serving certificate). */
    listen: {} as AnyActorLogic,
    /** Promise actor: close both listeners and every connection through them. */
    unlisten: {} as AnyActorLogic,
  },
  delays: {
    retryListen: ({ context }) => context.retryListenMs,
  },
  guards: {
    hasSessions: ({ context }) => context.sessions.length > 0,
    noSessions: ({ context }) => context.sessions.length === 0,
    removed: ({ context }) => context.removed,
    updatePending: ({ context }) => context.updatePending,
  },
  actions: {
    addSession: assign({
      sessions: ({ context }, params: { sessionId: string }) =>
        context.sessions.includes(params.sessionId) ? context.sessions : [...context.sessions, params.sessionId],
    }),
    removeSession: assign({
      sessions: ({ context }, params: { sessionId: string }) => context.sessions.filter((id) => id !== params.sessionId),
    }),
    markRemoved: assign({ removed: true }),
  },
}).createMachine({
  id: 'clusterGateway',
  context: ({ input }) => ({ ...input, sessions: [], lastError: undefined, removed: false, updatePending: false }),
  initial: 'idle',
  on: {
    'session.add': { actions: { type: 'addSession', params: ({ event }) => event } },
    'session.remove': { actions: { type: 'removeSession', params: ({ event }) => event } },
  },
  states: {
    idle: {
      always: [
        { guard: 'removed', target: 'removed' },
        { guard: 'hasSessions', target: 'starting' },
      ],
      on: { 'cluster.remove': { target: 'removed', actions: 'markRemoved' } },
    },
    starting: {
      entry: assign({ updatePending: false }),
      invoke: {
        src: 'listen',
        input: ({ context }: { context: ClusterGatewayContext }) => ({ key: context.key }),
        onDone: 'serving',
        onError: {
          target: 'retrying',
          actions: assign({ lastError: ({ event }) => (event.error instanceof Error ? event.error.message : String(event.error)) }),
        },
      },
      on: {
        'cluster.update': { actions: assign({ updatePending: true }) },
        'cluster.remove': { actions: 'markRemoved' },
      },
    },
    retrying: {
      always: [
        { guard: 'removed', target: 'removed' },
        { guard: 'noSessions', target: 'idle' },
      ],
      after: { retryListen: 'starting' },
      on: { 'cluster.remove': { target: 'removed', actions: 'markRemoved' } },
    },
    serving: {
      entry: assign({ lastError: undefined }),
      always: [
        { guard: 'removed', target: 'stopping' },
        { guard: 'noSessions', target: 'stopping' },
        { guard: 'updatePending', target: 'stopping' },
      ],
      on: {
        'cluster.update': 'stopping',
        'cluster.remove': { target: 'stopping', actions: 'markRemoved' },
      },
    },
    stopping: {
      invoke: {
        src: 'unlisten',
        input: ({ context }: { context: ClusterGatewayContext }) => ({ key: context.key }),
        onDone: 'idle',
        onError: 'idle',
      },
      on: { 'cluster.remove': { actions: 'markRemoved' } },
    },
    removed: { type: 'final' },
  },
});
