/**
 * Agent side: one connection to the proxy, redialled until stopped.
 *
 * session (dialing → handshaking → configuring → connected) ⇄ backoff → failed | stopped
 *
 * The `session` actor (one connection attempt: the io's `attempt`, src/actors/agent/) does
 * the I/O and reports
 * progress with events; while connected, the machine paces keepalive pings and gives the
 * connection up after `keepaliveCountMax` pings in a row went unanswered for a keepalive
 * interval each.
 */
import { assign, enqueueActions, fromCallback, sendTo, setup, spawnChild, stopChild, type ActorRefFrom } from 'xstate';
import { channelInputFor, channelMachine, finishedChildId, type ChannelRequest } from './channel.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';

export type AgentConnectionEvent =
  | { type: 'ws.open' }
  | { type: 'ssh.ready' }
  | { type: 'config.accepted' }
  | { type: 'config.rejected'; reason: string }
  /** `retryAfterMs`: the proxy asked us to wait this long (HTTP 429/503 `Retry-After`). */
  | { type: 'session.closed'; reason: string; retryAfterMs?: number }
  | ChannelRequest
  | { type: 'pong' }
  | { type: 'wake' }
  | { type: 'stop' };

/** Commands the machine sends to the session actor. */
export type AgentSessionCommand = { type: 'ping' };

/** The I/O of an agent connection, given by the actor layer. */
export interface AgentConnectionIo {
  /** The body of one connection attempt (a callback actor). */
  attempt(io: {
    sendBack: (event: AgentConnectionEvent) => void;
    receive: (listener: (command: AgentSessionCommand) => void) => void;
  }): () => void;
}

export interface AgentConnectionInput {
  /** 0 = retry forever (`--max-retry`). */
  readonly maxRetry: number;
  readonly backoff?: BackoffOptions;
  /** `--keepalive`; 0 disables pings. */
  readonly keepaliveMs: number;
  /** `--keepalive-count`: unanswered pings in a row before the connection is given up. */
  readonly keepaliveCountMax: number;
  /** Time to dial a target inside the member cluster. */
  readonly dialTimeoutMs: number;
  /** The only `host:port` targets a channel may name: our own two services. */
  readonly allowedTargets: readonly string[];
  readonly io: AgentConnectionIo;
}

export interface AgentConnectionContext extends Required<AgentConnectionInput> {
  /** Consecutive failed attempts since the last accepted config. */
  readonly failures: number;
  readonly lastError: string | undefined;
  /** The wait the proxy asked for after the last failure, if it asked (never less than the backoff). */
  readonly retryAfterMs: number | undefined;
  /** Pings in a row without a reply. */
  readonly missedPings: number;
}

/** Longest `Retry-After` the agent honours: a proxy cannot park it for longer. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/** The wait before the next attempt: the backoff, or what the proxy asked for if longer. */
export function retryDelay(context: Pick<AgentConnectionContext, 'failures' | 'backoff' | 'retryAfterMs'>): number {
  return Math.max(backoffDelay(context.failures, context.backoff), Math.min(context.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

export const agentConnectionMachine = setup({
  types: {
    input: {} as AgentConnectionInput,
    context: {} as AgentConnectionContext,
    events: {} as AgentConnectionEvent,
  },
  actors: {
    session: fromCallback<AgentSessionCommand, { io: AgentConnectionIo }, AgentConnectionEvent>(({ input, sendBack, receive }) =>
      input.io.attempt({ sendBack, receive }),
    ),
    // One per stream the proxy opens; its io comes with the request.
    channel: channelMachine,
  },
  delays: {
    retryDelay: ({ context }) => retryDelay(context),
    keepaliveDelay: ({ context }) => context.keepaliveMs,
  },
  guards: {
    retriesExhausted: ({ context }) => context.maxRetry > 0 && context.failures >= context.maxRetry,
    keepaliveEnabled: ({ context }) => context.keepaliveMs > 0,
    proxySilent: ({ context }) => context.missedPings + 1 >= context.keepaliveCountMax,
  },
  actions: {
    recordFailure: assign({
      failures: ({ context }) => context.failures + 1,
      lastError: (_, params: { reason: string; retryAfterMs?: number | undefined }) => params.reason,
      retryAfterMs: (_, params: { reason: string; retryAfterMs?: number | undefined }) => params.retryAfterMs,
    }),
    resetFailures: assign({ failures: 0, lastError: undefined, retryAfterMs: undefined }),
    ping: sendTo('session', { type: 'ping' } satisfies AgentSessionCommand),
    /** The channels belong to the attempt that opened them: they end with it. */
    stopChannels: enqueueActions(({ self, enqueue }) => {
      for (const id of Object.keys(self.getSnapshot().children)) if (id !== 'session') enqueue.stopChild(id);
    }),
  },
}).createMachine({
  id: 'agentConnection',
  context: ({ input }) => ({
    ...input,
    backoff: input.backoff ?? DEFAULT_BACKOFF,
    failures: 0,
    lastError: undefined,
    retryAfterMs: undefined,
    missedPings: 0,
  }),
  initial: 'session',
  on: {
    stop: '.stopped',
    // A spawned channel that reached its final state stays in `children` until stopped.
    'xstate.done.actor.*': { actions: stopChild(({ event }) => finishedChildId(event)) },
  },
  states: {
    session: {
      invoke: { id: 'session', src: 'session', input: ({ context }) => ({ io: context.io }) },
      initial: 'dialing',
      on: {
        'session.closed': {
          target: 'backoff',
          actions: { type: 'recordFailure', params: ({ event }) => ({ reason: event.reason, retryAfterMs: event.retryAfterMs }) },
        },
      },
      states: {
        dialing: { on: { 'ws.open': 'handshaking' } },
        handshaking: { on: { 'ssh.ready': 'configuring' } },
        configuring: {
          on: {
            'config.accepted': { target: 'connected', actions: 'resetFailures' },
            'config.rejected': {
              target: '#agentConnection.backoff',
              actions: { type: 'recordFailure', params: ({ event }) => ({ reason: event.reason }) },
            },
          },
        },
        connected: {
          exit: 'stopChannels',
          on: {
            'channel.requested': {
              actions: spawnChild('channel', {
                id: ({ event }) => event.id,
                input: ({ event, context }) => channelInputFor(event, context.allowedTargets, context.dialTimeoutMs),
              }),
            },
          },
          initial: 'idle',
          states: {
            idle: {
              entry: assign({ missedPings: 0 }),
              after: { keepaliveDelay: { guard: 'keepaliveEnabled', target: 'awaitingPong' } },
            },
            awaitingPong: {
              entry: 'ping',
              on: { pong: 'idle' },
              after: {
                keepaliveDelay: [
                  {
                    guard: 'proxySilent',
                    target: '#agentConnection.backoff',
                    actions: { type: 'recordFailure', params: { reason: 'keepalive: no reply from proxy' } },
                  },
                  { target: 'awaitingPong', reenter: true, actions: assign({ missedPings: ({ context }) => context.missedPings + 1 }) },
                ],
              },
            },
          },
        },
      },
    },
    backoff: {
      always: { guard: 'retriesExhausted', target: 'failed' },
      on: { wake: 'session' },
      after: { retryDelay: 'session' },
    },
    failed: { type: 'final' },
    stopped: { type: 'final' },
  },
});

export type AgentConnectionActor = ActorRefFrom<typeof agentConnectionMachine>;
