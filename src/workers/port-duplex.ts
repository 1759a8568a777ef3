/**
 * A byte stream over a MessagePort: one PortDuplex on each end of a MessageChannel makes a
 * pipe between two threads. Bytes cross as transferred ArrayBuffers (one copy, on the
 * sending side); writes made in the same tick travel as one message.
 *
 * Flow control is by credit: a writer may have at most `windowBytes` sent and not yet
 * credited; the reader credits bytes once its readable buffer has taken them below its
 * high-water mark (at once, or when its consumer reads). So a slow consumer holds at most
 * window + high-water mark bytes of the peer's output, however fast the peer writes.
 *
 * Ends: `end()` reaches the peer as the end of its readable side (half-close works).
 * `destroy()` reaches the peer too: after our `end` it is a graceful close (the peer's
 * consumer still reads what arrived, then the peer closes; its writes are dropped),
 * before it an abort (the peer is destroyed at once, unread bytes dropped). The port
 * closing, e.g. because the other thread died, counts as a `destroy()`. Neither
 * emits 'error': a vanished peer is an ending, as with a socket closed by its peer.
 */
import { Duplex } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';

/** Bytes a writer may have sent and not yet had credited back (named limit). */
export const PORT_WINDOW_BYTES = 1024 * 1024;

export interface PortDuplexOptions {
  /** See PORT_WINDOW_BYTES. */
  readonly windowBytes?: number;
  /** Readable and writable high-water marks of this side; Node's default otherwise. */
  readonly highWaterMark?: number;
}

/** What travels on the port: bytes, a credit, or one of the two endings. */
type Wire = ArrayBuffer | number | 'end' | 'destroy';

/**
 * Largest message: batched writes are flushed when they reach it (otherwise at the end of
 * the tick), and bigger writes are cut to it. Larger ArrayBuffers cost more to allocate
 * and free than they save in messages (measured: 64 KiB moves a GB with half the CPU of
 * 256 KiB).
 */
const MESSAGE_BYTES = 64 * 1024;

export class PortDuplex extends Duplex {
  readonly #port: MessagePort;
  readonly #window: number;
  /** Sent and not yet credited by the peer. */
  #inflight = 0;
  /** The write callback held back until credit arrives. */
  #waiting: (() => void) | undefined;
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #flushQueued = false;
  /** Taken into our readable buffer; owed to the peer as credit. */
  #owed = 0;
  /** Pushed while our readable buffer was full: credited when the consumer reads. */
  #held = 0;
  #remoteEnded = false;
  #sentEnd = false;
  /** The peer is gone: writes are dropped. */
  #peerGone = false;
  #portClosed = false;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(port: MessagePort, options: PortDuplexOptions = {}) {
    super({
      allowHalfOpen: true,
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
    });
    this.#port = port;
    this.#window = Math.max(1, options.windowBytes ?? PORT_WINDOW_BYTES);
    port.on('message', this.#onMessage);
    port.once('close', this.#onPortClose);
  }

  /** Bytes received from the peer and sent to it so far. */
  get bytesIn(): number {
    return this.#bytesIn;
  }
  get bytesOut(): number {
    return this.#bytesOut;
  }
  /** Sent and not yet credited (for tests and metrics). */
  get inflightBytes(): number {
    return this.#inflight;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#peerGone || chunk.length === 0) return callback();
    this.#batch.push(chunk);
    this.#batchBytes += chunk.length;
    this.#inflight += chunk.length;
    if (this.#batchBytes >= MESSAGE_BYTES) this.#flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
    if (this.#inflight < this.#window) callback();
    else this.#waiting = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#flush();
    this.#sentEnd = true;
    this.#post('end');
    callback();
  }

  override _read(): void {
    if (this.#held === 0) return;
    this.#owed += this.#held;
    this.#held = 0;
    this.#credit(true);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#waiting = undefined;
    this.#batch = [];
    this.#batchBytes = 0;
    // After both ends met, the port's close says all there is to say.
    if (!(this.#sentEnd && this.#remoteEnded)) this.#post('destroy');
    this.#port.off('message', this.#onMessage);
    this.#port.off('close', this.#onPortClose);
    this.#port.close();
    this.#portClosed = true;
    callback(error);
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#batchBytes === 0 || this.#portClosed) return;
    let left = this.#batchBytes;
    let message = new Uint8Array(Math.min(left, MESSAGE_BYTES));
    let filled = 0;
    for (const chunk of this.#batch) {
      for (let from = 0; from < chunk.length; ) {
        const n = Math.min(chunk.length - from, message.length - filled);
        message.set(from === 0 && n === chunk.length ? chunk : chunk.subarray(from, from + n), filled);
        filled += n;
        from += n;
        if (filled < message.length) continue;
        const bytes = message.buffer as ArrayBuffer;
        this.#port.postMessage(bytes, [bytes]);
        left -= filled;
        if (left > 0) message = new Uint8Array(Math.min(left, MESSAGE_BYTES));
        filled = 0;
      }
    }
    this.#bytesOut += this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
  };

  #post(message: Wire): void {
    if (!this.#portClosed) this.#port.postMessage(message);
  }

  /** Send what we owe once it is worth a message (a quarter window), or when asked. */
  #credit(force = false): void {
    if (this.#owed === 0 || (!force && this.#owed < this.#window / 4)) return;
    const owed = this.#owed;
    this.#owed = 0;
    this.#post(owed);
  }

  readonly #onMessage = (message: Wire): void => {
    if (message instanceof ArrayBuffer) {
      if (this.destroyed || this.#remoteEnded) return;
      this.#bytesIn += message.byteLength;
      if (this.push(Buffer.from(message))) {
        this.#owed += message.byteLength;
        this.#credit();
      } else this.#held += message.byteLength;
    } else if (typeof message === 'number') {
      this.#inflight -= message;
      if (this.#waiting && this.#inflight < this.#window) {
        const callback = this.#waiting;
        this.#waiting = undefined;
        callback();
      }
    } else if (message === 'end') {
      this.#remoteEnded = true;
      this.push(null);
    } else if (message === 'destroy') {
      this.#peerEnded();
    }
  };

  readonly #onPortClose = (): void => {
    this.#portClosed = true;
    this.#peerEnded();
  };

  /** The peer destroyed its end or its thread is gone. */
  #peerEnded(): void {
    if (this.destroyed) return;
    if (!this.#remoteEnded) return void this.destroy();
    // Graceful: let our consumer read what arrived, then close. Our writes go nowhere.
    this.#peerGone = true;
    this.#batch = [];
    this.#batchBytes = 0;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }
}
