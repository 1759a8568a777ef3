/**
 * Copy bytes both ways between two duplex streams until both directions have ended (or
 * either fails), then make sure both are destroyed. Reports byte counts once.
 */
import { pipeline } from 'node:stream';
import type { Duplex } from 'node:stream';

export interface PipeResult {
  /** Bytes from `a` to `b`. */
  readonly bytesAtoB: number;
  /** Bytes from `b` to `a`. */
  readonly bytesBtoA: number;
  readonly error?: string;
}

/** Returns a function that aborts the pipe (destroying both streams). */
export function pipeStreams(a: Duplex, b: Duplex, onDone: (result: PipeResult) => void): () => void {
  let aToB = 0;
  let bToA = 0;
  let pending = 2;
  let firstError: Error | undefined;
  let reported = false;
  a.on('data', (chunk: Buffer) => (aToB += chunk.length));
  b.on('data', (chunk: Buffer) => (bToA += chunk.length));

  const report = () => {
    if (reported) return;
    reported = true;
    a.destroy();
    b.destroy();
    onDone({ bytesAtoB: aToB, bytesBtoA: bToA, ...(firstError ? { error: firstError.message } : {}) });
  };
  // pipeline() forwards end (half-close) and waits for the writer to flush before it
  // calls back, so no byte is dropped when one side finishes first.
  const directionDone = (error?: Error | null) => {
    if (error && !isPrematureClose(error)) firstError ??= error;
    pending -= 1;
    if (pending === 0 || error) report();
  };
  // The two pipelines add 8 'close' listeners to each stream (fewer of 'error', 'end'):
  // with the owner's own, an ssh2 channel passes the default limit of 10 and Node warns of
  // a leak that is none. Raise each stream's limit by what the pipe adds.
  for (const stream of [a, b]) {
    const max = stream.getMaxListeners();
    if (max > 0 && Number.isFinite(max)) stream.setMaxListeners(max + PIPE_LISTENERS);
  }
  pipeline(a, b, directionDone);
  pipeline(b, a, directionDone);
  return () => {
    firstError ??= new Error('aborted');
    report();
  };
}

/** Listeners of one event that two pipeline() calls add to each of their streams. */
const PIPE_LISTENERS = 8;

function isPrematureClose(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
}
