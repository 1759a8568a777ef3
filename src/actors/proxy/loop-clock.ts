/**
 * How long a peer has been silent, as far as this process can know. While our own event
 * loop is blocked (a long GC, a burst of work, a loaded CI machine), whatever peers send
 * waits unread in the kernel: measured with the wall clock, every agent then looks
 * silent for as long as we were stalled, and a live one could be suspected dead.
 *
 * So silence is measured up to the last moment we were reading. A timer marks, right
 * after each poll phase (setImmediate runs then), that sockets were read; a callback
 * running just after a stall still sees the mark from before it.
 */
const TICK_MS = 50;

let lastRead = 0;
let timer: NodeJS.Timeout | undefined;

function mark(): void {
  lastRead = performance.now();
}

/** The moment up to which this process has been reading its sockets (at most now). */
export function readUntil(): number {
  const now = performance.now();
  if (!timer) {
    lastRead = now;
    timer = setInterval(() => setImmediate(mark), TICK_MS).unref();
  }
  // In step, the mark is at most a tick old; older means the loop stalled since then.
  return Math.min(now, lastRead + TICK_MS);
}
