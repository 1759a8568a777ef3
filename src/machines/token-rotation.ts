/**
 * Agent side, in-cluster: follow the kubelet's rotation of the service-account token.
 *
 * serving → checking → serving, or → rotating → retiring → serving
 *
 * Every `checkIntervalMs` the token file is looked at; when it changed, a second
 * connection is made with the new token (make-before-break). Once it is connected it
 * becomes the current one and the previous connection keeps serving for `graceMs` (its
 * requests in flight finish), then it is stopped. A new connection that does not come up
 * within `connectTimeoutMs` is abandoned and the current one kept.
 */
import { assign, fromPromise, setup } from 'xstate';

/** The I/O of token rotation, given by the actor layer. */
export interface TokenRotationIo {
  /** True when the token file's content changed since the last look. */
  tokenChanged(): Promise<boolean>;
  /** Start a connection with the current token file; send `next.connected` once it is connected. */
  startNext(): void;
  /** The new connection is connected: it becomes the current one. */
  promoteNext(): void;
  /** Stop the connection that was replaced. */
  retirePrevious(): void;
  /** Stop the new connection that did not come up. */
  abandonNext(): void;
}

export interface TokenRotationInput {
  readonly checkIntervalMs: number;
  readonly connectTimeoutMs: number;
  readonly graceMs: number;
  readonly io: TokenRotationIo;
}

export type TokenRotationEvent = { type: 'next.connected' } | { type: 'stop' };

export const tokenRotationMachine = setup({
  types: {
    input: {} as TokenRotationInput,
    context: {} as TokenRotationInput & { readonly rotations: number },
    events: {} as TokenRotationEvent,
  },
  actors: {
    check: fromPromise<boolean, { io: TokenRotationIo }>(({ input }) => input.io.tokenChanged()),
  },
  delays: {
    checkInterval: ({ context }) => context.checkIntervalMs,
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    grace: ({ context }) => context.graceMs,
  },
  actions: {
    startNext: ({ context }) => context.io.startNext(),
    promoteNext: ({ context }) => context.io.promoteNext(),
    retirePrevious: ({ context }) => context.io.retirePrevious(),
    abandonNext: ({ context }) => context.io.abandonNext(),
  },
}).createMachine({
  id: 'tokenRotation',
  context: ({ input }) => ({ ...input, rotations: 0 }),
  initial: 'serving',
  on: { stop: '.stopped' },
  states: {
    serving: {
      after: { checkInterval: 'checking' },
    },
    checking: {
      invoke: {
        src: 'check',
        input: ({ context }) => ({ io: context.io }),
        onDone: [{ guard: ({ event }) => event.output, target: 'rotating' }, { target: 'serving' }],
        // The file may be missing for a moment during the kubelet's swap: look again later.
        onError: 'serving',
      },
    },
    rotating: {
      entry: 'startNext',
      on: { 'next.connected': { target: 'retiring', actions: ['promoteNext', assign({ rotations: ({ context }) => context.rotations + 1 })] } },
      after: { connectTimeout: { target: 'serving', actions: 'abandonNext' } },
    },
    retiring: {
      after: { grace: 'serving' },
      // After the grace, or at once when the agent stops.
      exit: 'retirePrevious',
    },
    stopped: { type: 'final' },
  },
});
