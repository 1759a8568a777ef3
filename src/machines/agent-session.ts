/**
 * Proxy side: one agent's session, from the SSH handshake to its end.
 *
 * handshaking → awaitingConfig → serving → closing → closed
 *                      ↘ rejecting ↗
 *
 * The `ssh` actor (the session's `io`) owns the SSH connection over the WebSocket. It
 * checks the config against the served clusters and reports `config.accepted` or
 * `config.rejected`; the machine decides timeouts and the order of the ending. While
 * serving, each `channel.requested` becomes a channel child. The output says how it ended,
 * with a code for metrics and the reason in words for logs.
 */
import { assign, fromCallback, sendTo, setup, spawnChild, stopChild } from 'xstate';
import { channelInputFor, channelMachine, finishedChildId, type ChannelRequest } from './channel.js';

/** Why a session ended (or, for `accepted`, that it served). */
export type SessionEndCode =
  | 'accepted'
  | 'wrong_token'
  | 'unknown_cluster'
  | 'bad_config'
  | 'config_timeout'
  | 'handshake_timeout'
  | 'throttled'
  | 'disconnected';

/** Why a config was refused. */
export type RejectCode = Extract<SessionEndCode, 'wrong_token' | 'unknown_cluster' | 'bad_config' | 'throttled'>;

export type AgentSessionEvent =
  | { type: 'ssh.ready' }
  | { type: 'config.accepted'; clusterName: string; allowedTargets: readonly string[] }
  | { type: 'config.rejected'; reason: string; code: RejectCode }
  /** Someone wants a stream to `target`; the spawned channel actor opens it. */
  | ChannelRequest
  | { type: 'ssh.closed'; reason: string }
  | { type: 'stop'; reason: string };

/** Commands the machine sends to the ssh actor. */
export type SshCommand = { type: 'close'; reason: string };

/** The I/O of one session, given by the actor layer. */
export interface SessionIo {
  /** The body of the `ssh` callback actor: report progress with `sendBack`, obey `receive`d commands. */
  runSsh(io: { sendBack: (event: AgentSessionEvent) => void; receive: (listener: (command: SshCommand) => void) => void }): () => void;
  /** The session started (true) or stopped (false) serving. */
  announce(serving: boolean): void;
}

export interface AgentSessionInput {
  readonly sessionId: string;
  readonly remoteAddress: string;
  readonly handshakeTimeoutMs: number;
  readonly configTimeoutMs: number;
  /** Time allowed for the failure reply to reach a rejected agent before the close. */
  readonly rejectLingerMs: number;
  /** Time the agent has to answer a channel open. */
  readonly channelOpenTimeoutMs: number;
  readonly io: SessionIo;
}

export interface AgentSessionContext extends AgentSessionInput {
  readonly clusterName: string | undefined;
  readonly reason: string | undefined;
  readonly code: SessionEndCode | undefined;
  /** The agent's two services (`host:port`): the only targets a channel may name. */
  readonly allowedTargets: readonly string[];
}

export interface AgentSessionOutput {
  readonly clusterName: string | undefined;
  readonly code: SessionEndCode;
  readonly reason: string;
}

export const agentSessionMachine = setup({
  types: {
    input: {} as AgentSessionInput,
    context: {} as AgentSessionContext,
    events: {} as AgentSessionEvent,
    output: {} as AgentSessionOutput,
  },
  actors: {
    ssh: fromCallback<SshCommand, { io: SessionIo }, AgentSessionEvent>(({ input, sendBack, receive }) =>
      input.io.runSsh({ sendBack, receive }),
    ),
    channel: channelMachine,
  },
  delays: {
    handshakeTimeout: ({ context }) => context.handshakeTimeoutMs,
    configTimeout: ({ context }) => context.configTimeoutMs,
    rejectLinger: ({ context }) => context.rejectLingerMs,
  },
  actions: {
    /** The first reason (and code) wins: later ones are consequences. */
    setReason: assign(({ context }, params: { reason: string; code: SessionEndCode }) =>
      context.reason === undefined ? { reason: params.reason, code: context.code ?? params.code } : {},
    ),
    closeSsh: sendTo('ssh', ({ context }): SshCommand => ({ type: 'close', reason: context.reason ?? 'closed' })),
    announceServing: ({ context }) => context.io.announce(true),
    announceEnded: ({ context }) => context.io.announce(false),
  },
}).createMachine({
  id: 'agentSession',
  context: ({ input }) => ({ ...input, clusterName: undefined, reason: undefined, code: undefined, allowedTargets: [] }),
  invoke: { id: 'ssh', src: 'ssh', input: ({ context }) => ({ io: context.io }) },
  initial: 'handshaking',
  on: {
    // A spawned channel that reached its final state stays in `children` until stopped.
    'xstate.done.actor.*': { actions: stopChild(({ event }) => finishedChildId(event)) },
    'ssh.closed': {
      target: '.closed',
      actions: { type: 'setReason', params: ({ event }) => ({ reason: event.reason, code: 'disconnected' }) },
    },
    stop: {
      target: '.closing',
      actions: { type: 'setReason', params: ({ event }) => ({ reason: event.reason, code: 'disconnected' }) },
    },
  },
  states: {
    handshaking: {
      on: { 'ssh.ready': 'awaitingConfig' },
      after: {
        handshakeTimeout: {
          target: 'closing',
          actions: { type: 'setReason', params: { reason: 'SSH handshake timed out', code: 'handshake_timeout' } },
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
            code: 'accepted',
          }),
        },
        'config.rejected': {
          target: 'rejecting',
          actions: { type: 'setReason', params: ({ event }) => ({ reason: event.reason, code: event.code }) },
        },
      },
      after: {
        configTimeout: {
          target: 'closing',
          actions: { type: 'setReason', params: { reason: 'no config request within the time limit', code: 'config_timeout' } },
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
            input: ({ event, context }) => channelInputFor(event, context.allowedTargets, context.channelOpenTimeoutMs),
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
  output: ({ context }) => ({
    clusterName: context.clusterName,
    code: context.code ?? 'disconnected',
    reason: context.reason ?? 'closed',
  }),
});
