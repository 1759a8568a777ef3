/**
 * Stub actors for machine tests: they record what the machine gives them (input, commands)
 * and let the test answer with events, so a machine runs without sockets or timers.
 */
import {
  fromCallback,
  fromPromise,
  waitFor,
  type AnyActorRef,
  type CallbackActorLogic,
  type EventObject,
  type PromiseActorLogic,
  type SnapshotFrom,
} from 'xstate';

/** Longest a test waits for a machine to reach a state after a promise settles. */
export const WAIT_MS = 2_000;

export interface CallbackStub<TCommand extends EventObject, TBack extends EventObject, TInput> {
  readonly logic: CallbackActorLogic<TCommand, TInput>;
  /** Input of every instance started, in order. */
  readonly inputs: TInput[];
  /** Commands received by any instance, in order. */
  readonly received: TCommand[];
  readonly starts: number;
  readonly stops: number;
  /** True while the newest instance has not been stopped. */
  readonly running: boolean;
  /** Send an event to the parent from the newest running instance. */
  sendBack(event: TBack): void;
}

/** A callback actor that records its input and commands, and answers when told. */
export function callbackStub<TCommand extends EventObject, TBack extends EventObject, TInput = unknown>(): CallbackStub<
  TCommand,
  TBack,
  TInput
> {
  const inputs: TInput[] = [];
  const received: TCommand[] = [];
  let starts = 0;
  let stops = 0;
  let current: ((event: TBack) => void) | undefined;
  const logic = fromCallback<TCommand, TInput>(({ input, sendBack, receive }) => {
    starts += 1;
    inputs.push(input);
    const send = (event: TBack) => sendBack(event);
    current = send;
    receive((command) => received.push(command));
    return () => {
      stops += 1;
      if (current === send) current = undefined;
    };
  });
  return {
    logic,
    inputs,
    received,
    get starts() {
      return starts;
    },
    get stops() {
      return stops;
    },
    get running() {
      return current !== undefined;
    },
    sendBack(event) {
      if (!current) throw new Error(`no running instance to send ${event.type} from`);
      current(event);
    },
  };
}

export interface PromiseCall<TOutput, TInput> {
  readonly input: TInput;
  readonly signal: AbortSignal;
  resolve(value: TOutput): void;
  reject(error: unknown): void;
}

export interface PromiseStub<TOutput, TInput> {
  readonly logic: PromiseActorLogic<TOutput, TInput>;
  readonly calls: PromiseCall<TOutput, TInput>[];
  /** The newest call; throws when there is none. */
  last(): PromiseCall<TOutput, TInput>;
}

/** A promise actor that records each call and settles only when the test says so. */
export function promiseStub<TOutput = void, TInput = unknown>(): PromiseStub<TOutput, TInput> {
  const calls: PromiseCall<TOutput, TInput>[] = [];
  const logic = fromPromise<TOutput, TInput>(
    ({ input, signal }) =>
      new Promise<TOutput>((resolve, reject) => {
        calls.push({ input, signal, resolve, reject });
      }),
  );
  return {
    logic,
    calls,
    last() {
      const call = calls.at(-1);
      if (!call) throw new Error('the promise actor was never started');
      return call;
    },
  };
}

/** Wait (bounded) until the actor's snapshot satisfies `predicate`. */
export function reach<TActor extends AnyActorRef>(
  actor: TActor,
  predicate: (snapshot: SnapshotFrom<TActor>) => boolean,
): Promise<SnapshotFrom<TActor>> {
  return waitFor(actor, predicate, { timeout: WAIT_MS });
}

/** Let pending promise callbacks run (one macrotask turn); used before asserting that nothing happened. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A channel's io for machine tests: opens settle and pipes end only when the test says so. */
export function fakeChannelIo() {
  const opens: PromiseCall<void, undefined>[] = [];
  let pipeDone: ((outcome: { bytesIn: number; bytesOut: number; error?: string }) => void) | undefined;
  const state = { pipeStarts: 0, pipeStops: 0, refused: [] as string[] };
  const io = {
    open: (signal: AbortSignal) => new Promise<void>((resolve, reject) => opens.push({ input: undefined, signal, resolve, reject })),
    pipe: (done: NonNullable<typeof pipeDone>) => {
      state.pipeStarts += 1;
      pipeDone = done;
      return () => {
        state.pipeStops += 1;
        pipeDone = undefined;
      };
    },
    refuse: (reason: string) => void state.refused.push(reason),
  };
  return {
    io,
    opens,
    state,
    get piping() {
      return pipeDone !== undefined;
    },
    lastOpen(): PromiseCall<void, undefined> {
      const call = opens.at(-1);
      if (!call) throw new Error('the channel never opened');
      return call;
    },
    endPipe(outcome: { bytesIn: number; bytesOut: number; error?: string }): void {
      if (!pipeDone) throw new Error('no pipe running');
      pipeDone(outcome);
    },
  };
}
