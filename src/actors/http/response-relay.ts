/**
 * One attempt at a request, as an undici dispatch handler: the member's response goes to
 * the client as it arrives, paced by the client (reading from the member pauses while
 * the client's side is full, so what is held is bounded by the client's buffers, never by
 * what the member sends). A failure before the response starts is handed back untouched,
 * so the request can be tried again elsewhere; one after it cuts the client's response.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

type Controller = Dispatcher.DispatchController;

/** Where a response body goes: the client's response, or a watch's line splitter before it. */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): void;
  /** Cut the client's response (the member's broke off). */
  destroy(): void;
  once(event: 'drain', listener: () => void): unknown;
}

export interface RelayCallbacks {
  /** The response began: write its head, say where its body goes. */
  readonly started: (statusCode: number, headers: IncomingHttpHeaders, statusMessage: string | undefined) => BodySink;
  /**
   * Failed before the response began: nothing has been written to the client. `reused`:
   * its connection had served a request before (the member may have closed it as it was reused).
   */
  readonly failed: (error: Error, reused: boolean) => void;
  /** Body bytes as they pass (metrics). */
  readonly received?: (bytes: number) => void;
}

export class ResponseRelay implements Dispatcher.DispatchHandler {
  readonly #callbacks: RelayCallbacks;
  #controller: Controller | undefined;
  #sink: BodySink | undefined;
  /** Ended, failed or given up: later callbacks change nothing. */
  #settled = false;
  #abortReason: Error | undefined;
  #done: ((clean: boolean) => void) | undefined;
  #reused = false;

  constructor(callbacks: RelayCallbacks) {
    this.#callbacks = callbacks;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Sent on a connection (`reused` if it had served a request before); `done` is called once it settles. */
  sentOn(reused: boolean, done: (clean: boolean) => void): void {
    this.#reused = reused;
    this.#done = done;
  }

  /** Give up on it quietly (the client went away, a drain's deadline): the upstream request is cut. */
  cancel(reason: Error): void {
    if (this.#settled) return;
    const controller = this.#controller;
    this.#settle(false);
    this.#abortReason = reason;
    controller?.abort(reason);
  }

  /** Give up on it and report `reason` as its failure (its agent went silent). Only before the response began. */
  fail(reason: Error): void {
    if (this.#settled || this.#sink) return;
    this.cancel(reason);
    this.#callbacks.failed(reason, this.#reused);
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    // Given up on while its connection was still being made.
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.#settled) return controller.abort(this.#abortReason ?? new Error('given up'));
    if (statusCode < 200) return; // informational (103): not passed on
    this.#sink = this.#callbacks.started(statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#settled || !this.#sink) return;
    this.#callbacks.received?.(chunk.length);
    if (this.#sink.write(chunk) || controller.paused) return;
    controller.pause();
    this.#sink.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    const sink = this.#sink;
    this.#settle(true);
    sink?.end();
  }

  onResponseError(_controller: Controller | undefined, error: Error): void {
    if (this.#settled) return;
    const sink = this.#sink;
    this.#settle(false);
    if (sink) sink.destroy();
    else this.#callbacks.failed(error, this.#reused);
  }

  /**
   * Settled: the controller (which holds the response's raw headers, views of the
   * tunnel's receive buffers) is let go at once, not when the client's response is.
   */
  #settle(clean: boolean): void {
    this.#settled = true;
    this.#controller = undefined;
    this.#done?.(clean);
  }
}
