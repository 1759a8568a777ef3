/**
 * One `kubesphere` channel: a byte stream between the proxy and a target the agent dials.
 *
 * checking → opening → open → closed, or → refused / failed.
 *
 * The machine decides; the `io` it is given (ChannelIo) touches the world. Agent side:
 * `open` dials the target and accepts the SSH channel, `pipe` copies both ways. Proxy side:
 * `open` asks the agent for the channel, `pipe` watches it while the HTTP client uses it.
 * The target check is pure: only targets in `allowedTargets` pass; an open that takes
 * longer than `openTimeoutMs` fails.
 */
import { assertEvent, assign, fromCallback, fromPromise, setup, type EventObject } from 'xstate';
import { errorMessage } from '../errors.js';

/** How a channel ended when it had been open. */
export interface PipeOutcome {
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly error?: string;
}

/** The I/O of one channel, given by the side that owns it. */
export interface ChannelIo {
  /** Open the stream; rejects with the reason. Aborted (signal) when the machine gives up. */
  open(signal: AbortSignal): Promise<void>;
  /** Watch the open stream until it ends, then call `done` once. Returns a stop function. */
  pipe(done: (outcome: PipeOutcome) => void): () => void;
  /** Called once when the channel was refused or failed before it opened. */
  refuse(reason: string): void;
}

export interface ChannelInput {
  readonly id: string;
  /** Normalized `host:port` asked for. */
  readonly target: string;
  readonly allowedTargets: readonly string[];
  readonly openTimeoutMs: number;
  readonly io: ChannelIo;
}

export interface ChannelContext extends ChannelInput {
  readonly end: ChannelEnd | undefined;
  readonly reason: string | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export type ChannelEnd = 'closed' | 'refused' | 'failed';

export interface ChannelOutput {
  readonly end: ChannelEnd;
  readonly reason: string | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** What a session machine receives when a channel is wanted. */
export interface ChannelRequest {
  readonly type: 'channel.requested';
  readonly id: string;
  readonly target: string;
  readonly io: ChannelIo;
}

/** The channel child's input for a `channel.requested` event (checked against `allowedTargets`). */
export function channelInputFor(event: EventObject, allowedTargets: readonly string[], openTimeoutMs: number): ChannelInput {
  assertEvent(event as ChannelRequest, 'channel.requested');
  const request = event as ChannelRequest;
  return { id: request.id, target: request.target, io: request.io, allowedTargets, openTimeoutMs };
}

/** Prefix of the event xstate sends a parent when a child actor is done. */
const DONE_ACTOR = 'xstate.done.actor.';

/** The id of the child a `xstate.done.actor.<id>` event is about. */
export function finishedChildId(event: EventObject): string {
  return event.type.slice(DONE_ACTOR.length);
}

export type ChannelEvent = ({ type: 'pipe.done' } & PipeOutcome) | { type: 'close'; reason: string };

export const channelMachine = setup({
  types: {
    input: {} as ChannelInput,
    context: {} as ChannelContext,
    events: {} as ChannelEvent,
    output: {} as ChannelOutput,
  },
  actors: {
    open: fromPromise<void, { io: ChannelIo }>(({ input, signal }) => input.io.open(signal)),
    pipe: fromCallback<ChannelEvent, { io: ChannelIo }>(({ input, sendBack }) =>
      input.io.pipe((outcome) => sendBack({ type: 'pipe.done', ...outcome })),
    ),
  },
  delays: {
    openTimeout: ({ context }) => context.openTimeoutMs,
  },
  guards: {
    targetAllowed: ({ context }) => context.allowedTargets.includes(context.target),
  },
  actions: {
    refuse: ({ context }) => context.io.refuse(context.reason ?? 'channel refused'),
  },
}).createMachine({
  id: 'channel',
  context: ({ input }) => ({ ...input, end: undefined, reason: undefined, bytesIn: 0, bytesOut: 0 }),
  initial: 'checking',
  states: {
    checking: {
      always: [
        { guard: 'targetAllowed', target: 'opening' },
        {
          target: 'refused',
          actions: assign({ reason: ({ context }) => `target ${context.target} is not allowed` }),
        },
      ],
    },
    opening: {
      invoke: {
        src: 'open',
        input: ({ context }) => ({ io: context.io }),
        onDone: 'open',
        onError: {
          target: 'failed',
          actions: assign({ reason: ({ event }) => errorMessage(event.error) }),
        },
      },
      after: {
        openTimeout: {
          target: 'failed',
          actions: assign({ reason: ({ context }) => `no answer to the channel open within ${context.openTimeoutMs} ms` }),
        },
      },
      on: { close: { target: 'failed', actions: assign({ reason: ({ event }) => event.reason }) } },
    },
    open: {
      invoke: { src: 'pipe', input: ({ context }) => ({ io: context.io }) },
      on: {
        'pipe.done': {
          target: 'closed',
          actions: assign({
            bytesIn: ({ event }) => event.bytesIn,
            bytesOut: ({ event }) => event.bytesOut,
            reason: ({ event }) => event.error,
          }),
        },
        close: { target: 'closed', actions: assign({ reason: ({ event }) => event.reason }) },
      },
    },
    refused: { type: 'final', entry: [assign({ end: 'refused' }), 'refuse'] },
    failed: { type: 'final', entry: [assign({ end: 'failed' }), 'refuse'] },
    closed: { type: 'final', entry: assign({ end: 'closed' }) },
  },
  output: ({ context }) => ({
    end: context.end ?? 'closed',
    reason: context.reason,
    bytesIn: context.bytesIn,
    bytesOut: context.bytesOut,
  }),
});
