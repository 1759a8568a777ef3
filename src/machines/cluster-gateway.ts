/**
 * Proxy side: the two listeners of one served cluster and the agent sessions behind them.
 *
 * binding → listening ⇄ rebinding, binding → retrying → binding, and → closing → removed
 *
 * The listeners are held from the moment the cluster is served, agents or not (requests
 * get a 503 until one connects), so nothing else can take the ports. A failed bind (port
 * taken, address missing) is retried with a capped backoff; new ports rebind.
 */
import { assign, fromPromise, setup } from 'xstate';
import { errorMessage } from '../errors.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';

/** The I/O of one gateway, given by the actor layer. */
export interface GatewayIo {
  /** Open both listeners with the cluster's current settings. */
  listen(): Promise<void>;
  /** Close both listeners and every connection through them. */
  unlisten(): Promise<void>;
}

export interface ClusterGatewayInput {
  readonly clusterName: string;
  readonly retry: BackoffOptions;
  readonly io: GatewayIo;
}

export interface ClusterGatewayContext extends ClusterGatewayInput {
  /** Live sessions in arrival order; requests go round-robin over them. */
  readonly sessions: readonly string[];
  /** Failed binds in a row. */
  readonly failures: number;
  readonly lastError: string | undefined;
  /** `cluster.update` came while the listeners were opening with the old settings. */
  readonly updatePending: boolean;
}

export type ClusterGatewayEvent =
  | { type: 'session.add'; sessionId: string }
  | { type: 'session.remove'; sessionId: string }
  /** The ports changed: rebind with the new settings. */
  | { type: 'cluster.update' }
  | { type: 'cluster.remove' };

const withIo = ({ context }: { context: ClusterGatewayContext }) => ({ io: context.io });

export const clusterGatewayMachine = setup({
  types: {
    input: {} as ClusterGatewayInput,
    context: {} as ClusterGatewayContext,
    events: {} as ClusterGatewayEvent,
  },
  actors: {
    listen: fromPromise<void, { io: GatewayIo }>(({ input }) => input.io.listen()),
    unlisten: fromPromise<void, { io: GatewayIo }>(({ input }) => input.io.unlisten()),
  },
  delays: {
    retryListen: ({ context }) => backoffDelay(context.failures, context.retry),
  },
  guards: {
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
  },
}).createMachine({
  id: 'clusterGateway',
  context: ({ input }) => ({ ...input, sessions: [], failures: 0, lastError: undefined, updatePending: false }),
  initial: 'binding',
  on: {
    'session.add': { actions: { type: 'addSession', params: ({ event }) => event } },
    'session.remove': { actions: { type: 'removeSession', params: ({ event }) => event } },
    'cluster.remove': '.closing',
  },
  states: {
    binding: {
      entry: assign({ updatePending: false }),
      invoke: {
        src: 'listen',
        input: withIo,
        onDone: { target: 'listening', actions: assign({ failures: 0, lastError: undefined }) },
        onError: {
          target: 'retrying',
          actions: assign({ failures: ({ context }) => context.failures + 1, lastError: ({ event }) => errorMessage(event.error) }),
        },
      },
      on: { 'cluster.update': { actions: assign({ updatePending: true }) } },
    },
    retrying: {
      after: { retryListen: 'binding' },
      // New settings may be what fixes it: try them at once.
      on: { 'cluster.update': 'binding' },
    },
    listening: {
      always: { guard: 'updatePending', target: 'rebinding' },
      on: { 'cluster.update': 'rebinding' },
    },
    rebinding: {
      invoke: { src: 'unlisten', input: withIo, onDone: 'binding', onError: 'binding' },
    },
    closing: {
      invoke: { src: 'unlisten', input: withIo, onDone: 'removed', onError: 'removed' },
      on: { 'cluster.remove': {} },
    },
    removed: { type: 'final' },
  },
});
