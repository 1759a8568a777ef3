/**
 * How long a peer has been silent, as far as this process can know. While our own event
 * loop is blocked (a long GC, a burst of work, a loaded CI machine), whatever peers send
 * waits unread in the kernel: measured with the wall clock, every agent then looks
 * silent for as long as we were stalled, and a live one could be suspected dead — during
 * the stall, and after it too, until the agent next speaks (it may have been waiting
 * for an answer of ours that the stall held back).
 *
 * So silence is measured on a clock that runs only while we are reading: a timer marks,
 * right after each poll phase (setImmediate runs then), that sockets were read, and a gap
 * between marks longer than two ticks (a stall) counts as two ticks.
 */
const TICK_MS = 50;
const MAX_STEP_MS = 2 * TICK_MS;

/** Reading time up to the last mark, and the wall-clock moment of that mark. */
let readAtMark = 0;
let lastMark = 0;
let timer: NodeJS.Timeout | undefined;

function mark(): void {
  const now = performance.now();
  readAtMark += Math.min(now - lastMark, MAX_STEP_MS);
  lastMark = now;
}

/**
 * Milliseconds this process has spent reading its sockets (stalls of its own left out):
 * compare two readings, never a reading with `performance.now()`.
 */
export function readingTime(): number {
  const now = performance.now();
  if (!timer) {
    lastMark = now;
    timer = setInterval(() => setImmediate(mark), TICK_MS).unref();
  }
  // In step, the last mark is at most a tick old; older means the loop stalled since.
  // (Never past what the next mark adds, so readings only grow.)
  return readAtMark + Math.min(now - lastMark, TICK_MS);
}
