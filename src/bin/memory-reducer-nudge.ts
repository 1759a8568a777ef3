/**
 * Lets V8 13+ (Node 24) give memory back after a burst. Its memory reducer shrinks the
 * heap of a process that went quiet, but only once every allocation rate it samples is
 * low, and since V8 CL 5935313 ("Use exponential decay for allocation speed") the rate of
 * the embedder's heap (cppgc) is exactly 0 in a process that never allocates there — and
 * 0 counts as the highest rate. So in plain-JavaScript Node 24 processes the reducer logs
 * "high alloc" every 8 s (`--trace-memory-reducer`) and runs only from a watchdog, 100 s
 * after the last major GC (which any other major GC postpones): measured here, an idle
 * proxy serving one cluster held 61 MB of anonymous memory on Node 24 against 33 MB on
 * Node 20 and 37 MB on Node 22.
 *
 * The one cppgc allocation Node core makes is a `vm.Script`: compiling a trivial one
 * gives that rate a small positive value, which decays to exactly 0 again after about
 * 100 s. Hence one every 30 s — a few microseconds each — and none on older V8.
 */
import { Script } from 'node:vm';

const NUDGE_EVERY_MS = 30_000;

/** Starts the nudges when this V8 needs them (13 and later); the timer never holds the process. */
export function nudgeMemoryReducer(v8Version = process.versions.v8): boolean {
  if (Number(v8Version.split('.')[0]) < 13) return false;
  const nudge = () => void new Script('0');
  nudge();
  setInterval(nudge, NUDGE_EVERY_MS).unref();
  return true;
}
