/**
 * A watch response passes through event by event: complete lines go on at once, a partial
 * line waits for its end. So a stream the proxy ends (a drain's deadline) ends between
 * two events, and the client sees a clean end of the watch, not half an event.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** A line longer than this is passed on in pieces (events are far smaller). */
export const MAX_HELD_LINE_BYTES = 4 * 1024 * 1024;

export class WatchLines extends Transform {
  #held: Buffer[] = [];
  #heldBytes = 0;

  /** True while nothing of a partial line has been passed on. */
  get aligned(): boolean {
    return this.#heldBytes === 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const lastNewline = chunk.lastIndexOf(0x0a);
    if (lastNewline < 0) {
      this.#hold(chunk);
      return done();
    }
    if (this.#heldBytes > 0) {
      this.push(Buffer.concat([...this.#held, chunk.subarray(0, lastNewline + 1)]));
      this.#held = [];
      this.#heldBytes = 0;
    } else {
      this.push(chunk.subarray(0, lastNewline + 1));
    }
    if (lastNewline + 1 < chunk.length) this.#hold(chunk.subarray(lastNewline + 1));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.#heldBytes > 0) this.push(Buffer.concat(this.#held));
    done();
  }

  #hold(piece: Buffer): void {
    this.#held.push(piece);
    this.#heldBytes += piece.length;
    if (this.#heldBytes > MAX_HELD_LINE_BYTES) {
      this.push(Buffer.concat(this.#held));
      this.#held = [];
      this.#heldBytes = 0;
    }
  }
}

/** A watch request (`?watch=1|true`) or a watch response (`application/json;stream=watch`). */
export function isWatch(url: string | undefined, contentType: string | undefined): boolean {
  return /[?&]watch=(1|true)(&|$)/.test(url ?? '') || /stream=watch/.test(contentType ?? '');
}
