/**
 * Copy bytes both ways between two duplex streams until both directions have ended (or
 * either fails), then make sure both are destroyed. Reports byte counts once. Bytes from
 * `a` to `b` may go through a transform on the way (the agent's request-head rewriter).
 */
import { finished, type Duplex, type Transform } from 'node:stream';

export interface PipeResult {
  /** Bytes from `a` to `b`. */
  readonly bytesAtoB: number;
  /** Bytes from `b` to `a`. */
  readonly bytesBtoA: number;
  readonly error?: string;
}

/** Returns a function that aborts the pipe (destroying both streams, and `aToBThrough`). */
export function pipeStreams(a: Duplex, b: Duplex, onDone: (result: PipeResult) => void, aToBThrough?: Transform): () => void {
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
    aToBThrough?.destroy();
    onDone({ bytesAtoB: aToB, bytesBtoA: bToA, ...(firstError ? { error: firstError.message } : {}) });
  };
  // A premature close ends only its own direction: a server that closes its socket as
  // soon as it has sent a response must not cut the response's last bytes while an SSH
  // channel still waits for window to send them. (stream.pipeline() would: it destroys
  // both of its streams when either closes early.) A real error ends both at once.
  const directionDone = (error?: Error | null) => {
    const failed = error && !isPrematureClose(error);
    if (failed) firstError ??= error;
    pending -= 1;
    if (pending === 0 || failed) report();
  };
  // The two directions add up to 3 listeners of one event ('close', 'error', 'end',
  // 'finish') to each stream: with the owner's own, an ssh2 channel can pass the default
  // limit of 10 and Node would warn of a leak that is none. Raise each stream's limit by
  // what the pipe adds.
  for (const stream of [a, b]) {
    const max = stream.getMaxListeners();
    if (max > 0 && Number.isFinite(max)) stream.setMaxListeners(max + PIPE_LISTENERS);
  }
  copy(a, b, directionDone, aToBThrough);
  copy(b, a, directionDone);
  return () => {
    firstError ??= new Error('aborted');
    report();
  };
}

/** Listeners of one event that the two directions add to each of their streams (two finished(), one pipe()). */
const PIPE_LISTENERS = 3;

/**
 * One direction: `from` piped into `to` (end is forwarded), through `through` if given;
 * done once `to` has flushed everything after `from` ended, or when any of them fails or
 * closes early.
 */
function copy(from: Duplex, to: Duplex, done: (error?: Error | null) => void, through?: Transform): void {
  let over = false;
  const once = (error?: Error | null) => {
    if (over) return;
    over = true;
    from.unpipe(through ?? to);
    through?.unpipe(to);
    done(error);
  };
  finished(to, { readable: false }, once);
  finished(from, { writable: false }, (error) => error && once(error));
  if (!through) return void from.pipe(to);
  finished(through, (error) => error && once(error));
  from.pipe(through).pipe(to);
}

function isPrematureClose(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
}
