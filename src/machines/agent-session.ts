/**
 * Proxy side: one agent connection, from the SSH handshake to its end.
 *
 * handshaking → awaitingConfig → serving → closing → closed
 *                      ↘ rejecting ↗
 *
 * The `ssh` actor (src/actors/proxy/) owns the SSH connection over the WebSocket. It
 * checks the config against the served clusters and reports `config.accepted` or
 * `config.rejected`; the machine decides timeouts and the order of the ending.
 */
import { assign, sendTo, setup, spawnChild, stopChild, type AnyActorLogic } from 'xstate';
import { channelInputFor, channelMachine, finishedChildId, type ChannelRequest } from './channel.js';

export interface AgentSessionInput {
  readonly sessionId: string;
  /** Which session this is, for the actor layer's shared implementations (unique per process). */
  readonly key: string;
  readonly remoteAddress: string;
  readonly handshakeTimeoutMs: number;
  readonly configTimeoutMs: number;
  /** Time allowed for the failure reply to reach a rejected agent before the close. */
  readonly rejectLingerMs: number;
}

export interface AgentSessionContext extends AgentSessionInput {
  readonly clusterName: string | undefined;
  readonly reason: string | undefined;
  /** The agent's two services (`host:port`): the only targets a channel may name. */
  readonly allowedTargets: readonly string[];
}

export type AgentSessionEvent =
  | { type: 'ssh.ready' }
  | { type: 'config.accepted'; clusterName: string; allowedTargets: readonly string[] }
  | { type: 'config.rejected'; reason: string }
  /** The gateway wants a stream to `target`; the spawned channel actor opens it. */
  | ChannelRequest
  | { type: 'ssh.closed'; reason: string }
  | { type: 'stop'; reason: string };


/** Commands the machine sends to the ssh actor. */
export type SshCommand = { type: 'close'; reason: string };

export const agentSessionMachine = setup({
  types: {
    input: {} as AgentSessionInput,
    context: {} as AgentSessionContext,
    events: {} as AgentSessionEvent,
  },
  actors: { ssh: {} as AnyActorLogic, channel: channelMachine },
  delays: {
    handshakeTimeout: ({ context }) => context.handshakeTimeoutMs,
    configTimeout: ({ context }) => context.configTimeoutMs,
    rejectLinger: ({ context }) => context.rejectLingerMs,
  },
  actions: {
    setReason: assign({ reason: ({ context }, params: { reason: string }) => context.reason ?? params.reason }),
    closeSsh: sendTo('ssh', ({ context }): SshCommand => ({ type: 'close', reason: context.reason ?? 'closed' })),
    /** Provided by the actor layer: tell the cluster gateway. */
    announceServing: () => {},
    announceEnded: () => {},
  },
}).createMachine({
  id: 'agentSession',
  context: ({ input }) => ({ ...input, clusterName: undefined, reason: undefined, allowedTargets: [] }),
  invoke: { id: 'ssh', src: 'ssh', input: ({ context }: { context: AgentSessionContext }) => ({ key: context.key }) },
  initial: 'handshaking',
  on: {
    // A spawned channel that reached its final state stays in `children` until stopped.
    'xstate.done.actor.*': { actions: stopChild(({ event }) => finishedChildId(event)) },
    'ssh.closed': {
      target: '.closed',
      actions: { type: 'setReason', params: ({ event }) => ({ reason: event.reason }) },
    },
    stop: {
      target: '.closing',
      actions: { type: 'setReason', params: ({ event }) => ({ reason: event.reason }) },
    },
  },
  states: {
    handshaking: {
      on: { 'ssh.ready': 'awaitingConfig' },
      after: {
        handshakeTimeout: {
          target: 'closing',
          actions: { type: 'setReason', params: { reason: 'SSH handshake timed out' } },
        },
      },
    },
    awaitingConfig: {
      on: {
        'config.accepted': {
          target: 'serving',
          actions: assign({
            clusterName: ({ event }) => event.clusterName,
            allowedTargets: ({ event }) => event.allowedTargets,
          }),
        },
        'config.rejected': {
          target: 'rejecting',
          actions: { type: 'setReason', params: ({ event }) => ({ reason: event.reason }) },
        },
      },
      after: {
        configTimeout: {
          target: 'closing',
          actions: { type: 'setReason', params: { reason: 'no config request within the time limit' } },
        },
      },
    },
    rejecting: {
      // The failure message is on its way; give it a moment before the close.
      after: { rejectLinger: 'closing' },
    },
    serving: {
      entry: 'announceServing',
      exit: 'announceEnded',
      on: {
        'channel.requested': {
          actions: spawnChild('channel', {
            id: ({ event }) => event.id,
            input: ({ event, context }) => channelInputFor(event, context.allowedTargets, context.key),
          }),
        },
      },
    },
    closing: {
      entry: 'closeSsh',
      // The ssh actor reports ssh.closed once the socket is gone; stop waiting after 5 s.
      after: { 5000: 'closed' },
    },
    closed: { type: 'final' },
  },
});
