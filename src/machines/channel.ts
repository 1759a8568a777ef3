/**
 * One `kubesphere` channel: a byte stream between the proxy and a target the agent dials.
 *
 * checking → opening → open → closed, or → refused / failed.
 *
 * Agent side: `open` dials the target over TCP and `pipe` copies both ways.
 * Proxy side: `open` asks the agent for the channel and `pipe` watches it while the HTTP
 * client uses it. The target check is pure: only targets in `allowedTargets` pass.
 */
import { assertEvent, assign, setup, type AnyActorLogic, type EventObject } from 'xstate';

export interface ChannelInput {
  readonly id: string;
  /** Normalized `host:port` asked for. */
  readonly target: string;
  readonly allowedTargets: readonly string[];
  /** Which session owns the channel, for the actor layer's shared implementations. */
  readonly owner?: string;
}

export interface ChannelContext extends ChannelInput {
  readonly reason: string | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** What a session machine receives when a channel is wanted. */
export type ChannelRequest = { type: 'channel.requested'; id: string; target: string };

/** The channel child's input for a `channel.requested` event, checked against `allowedTargets`. */
export function channelInputFor(event: EventObject, allowedTargets: readonly string[], owner?: string): ChannelInput {
  assertEvent(event as ChannelRequest, 'channel.requested');
  const request = event as ChannelRequest;
  return { id: request.id, target: request.target, allowedTargets, ...(owner ? { owner } : {}) };
}

/** Prefix of the event xstate sends a parent when a child actor is done. */
const DONE_ACTOR = 'xstate.done.actor.';

/** The id of the child a `xstate.done.actor.<id>` event is about. */
export function finishedChildId(event: EventObject): string {
  return event.type.slice(DONE_ACTOR.length);
}

export type ChannelEvent =
  | { type: 'pipe.done'; bytesIn: number; bytesOut: number; error?: string }
  | { type: 'close'; reason: string };

export const channelMachine = setup({
  types: {
    input: {} as ChannelInput,
    context: {} as ChannelContext,
    events: {} as ChannelEvent,
  },
  actors: {
    /** Promise actor: resolves once the stream is ready. */
    open: {} as AnyActorLogic,
    /** Callback actor: sends `pipe.done` when both directions have ended. */
    pipe: {} as AnyActorLogic,
  },
  guards: {
    targetAllowed: ({ context }) => context.allowedTargets.includes(context.target),
  },
  actions: {
    /** Provided by the actor layer: refuse the channel open with `context.reason`. */
    refuse: () => {},
  },
}).createMachine({
  id: 'channel',
  context: ({ input }) => ({ ...input, reason: undefined, bytesIn: 0, bytesOut: 0 }),
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
        input: ({ context }: { context: ChannelContext }) => ({ id: context.id, target: context.target, ...owner(context) }),
        onDone: 'open',
        onError: {
          target: 'failed',
          actions: assign({ reason: ({ event }) => errorMessage(event.error) }),
        },
      },
      on: { close: { target: 'closed', actions: assign({ reason: ({ event }) => event.reason }) } },
    },
    open: {
      invoke: { src: 'pipe', input: ({ context }: { context: ChannelContext }) => ({ id: context.id, ...owner(context) }) },
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
    refused: { type: 'final', entry: 'refuse' },
    failed: { type: 'final', entry: 'refuse' },
    closed: { type: 'final' },
  },
});

function owner(context: ChannelContext): { owner?: string } {
  return context.owner ? { owner: context.owner } : {};
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
