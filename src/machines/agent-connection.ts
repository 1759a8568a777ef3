/**
 * Agent side: one connection to the proxy, redialled until stopped.
 *
 * session (dialing → handshaking → configuring → connected) ⇄ backoff → failed | stopped
 *
 * The `session` actor (provided by src/actors/agent/) does the I/O and reports progress
 * with events; while connected, the machine paces keepalive pings and gives up on the
 * session when a reply does not come within `pingTimeoutMs`.
 */
import { assign, enqueueActions, sendTo, setup, spawnChild, stopChild, type ActorRefFrom, type AnyActorLogic } from 'xstate';
import { channelInputFor, channelMachine, finishedChildId, type ChannelRequest } from './channel.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';

export interface AgentConnectionInput {
  /** 0 = retry forever (`--max-retry`). */
  readonly maxRetry: number;
  readonly backoff?: BackoffOptions;
  /** `--keepalive`; 0 disables pings. */
  readonly keepaliveMs: number;
  readonly pingTimeoutMs: number;
  /** The only `host:port` targets a channel may name: our own two services. */
  readonly allowedTargets: readonly string[];
}

export interface AgentConnectionContext extends Required<AgentConnectionInput> {
  /** Consecutive failed attempts since the last accepted config. */
  readonly failures: number;
  readonly lastError: string | undefined;
}

export type AgentConnectionEvent =
  | { type: 'ws.open' }
  | { type: 'ssh.ready' }
  | { type: 'config.accepted' }
  | { type: 'config.rejected'; reason: string }
  | { type: 'session.closed'; reason: string }
  | ChannelRequest
  | { type: 'pong' }
  | { type: 'wake' }
  | { type: 'stop' };


/** Commands the machine sends to the session actor. */
export type AgentSessionCommand = { type: 'ping' };

export const agentConnectionMachine = setup({
  types: {
    input: {} as AgentConnectionInput,
    context: {} as AgentConnectionContext,
    events: {} as AgentConnectionEvent,
  },
  actors: {
    // Provided by the actor layer: dials, handshakes, sends the config, serves channels.
    session: {} as AnyActorLogic,
    // One per stream the proxy opens; the actor layer provides its I/O.
    channel: channelMachine,
  },
  delays: {
    retryDelay: ({ context }) => backoffDelay(context.failures, context.backoff),
    keepaliveDelay: ({ context }) => context.keepaliveMs,
    pingTimeout: ({ context }) => context.pingTimeoutMs,
  },
  guards: {
    retriesExhausted: ({ context }) => context.maxRetry > 0 && context.failures >= context.maxRetry,
    keepaliveEnabled: ({ context }) => context.keepaliveMs > 0,
  },
  actions: {
    recordFailure: assign({
      failures: ({ context }) => context.failures + 1,
      lastError: (_, params: { reason: string }) => params.reason,
    }),
    resetFailures: assign({ failures: 0, lastError: undefined }),
    /** The channels belong to the session that opened them: they end with it. */
    stopChannels: enqueueActions(({ self, enqueue }) => {
      for (const id of Object.keys(self.getSnapshot().children)) if (id !== 'session') enqueue.stopChild(id);
    }),
  },
}).createMachine({
  id: 'agentConnection',
  context: ({ input }) => ({
    maxRetry: input.maxRetry,
    backoff: input.backoff ?? DEFAULT_BACKOFF,
    keepaliveMs: input.keepaliveMs,
    pingTimeoutMs: input.pingTimeoutMs,
    allowedTargets: input.allowedTargets,
    failures: 0,
    lastError: undefined,
  }),
  initial: 'session',
  on: {
    stop: '.stopped',
    // A spawned channel that reached its final state stays in `children` until stopped.
    'xstate.done.actor.*': { actions: stopChild(({ event }) => finishedChildId(event)) },
  },
  states: {
    session: {
      invoke: { id: 'session', src: 'session' },
      initial: 'dialing',
      on: {
        'session.closed': {
          target: 'backoff',
          actions: { type: 'recordFailure', params: ({ event }) => ({ reason: event.reason }) },
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
                input: ({ event, context }) => channelInputFor(event, context.allowedTargets),
              }),
            },
          },
          initial: 'idle',
          states: {
            idle: {
              after: { keepaliveDelay: { guard: 'keepaliveEnabled', target: 'awaitingPong' } },
            },
            awaitingPong: {
              entry: sendTo('session', { type: 'ping' } satisfies AgentSessionCommand),
              on: { pong: 'idle' },
              after: {
                pingTimeout: {
                  target: '#agentConnection.backoff',
                  actions: { type: 'recordFailure', params: { reason: 'keepalive: no reply from proxy' } },
                },
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
