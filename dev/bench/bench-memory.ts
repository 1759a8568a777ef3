/**
 * A memory reading of a child that carries the probe: wait until it is idle (its CPU use
 * has stopped), then until V8 has settled its heap, read RSS as `ps` would show it, then
 * force a full GC and read the breakdown.
 *
 * Settled: a process that allocated fast (start-up, a burst of agents) keeps the heap it
 * grew — a 16 MB young generation, old-space pages — until V8's memory reducer runs, some
 * seconds to a minute after the process went quiet (`--trace-gc`: "Mark-Compact (reduce)").
 * What a long-running proxy or agent costs is the figure after it; the figure before it is
 * kept too (`rssUnsettled`), as what the first seconds cost.
 */
import type { Probe } from './bench-probe-client.js';
import type { ProbeMemory } from './bench-probe.js';
import { rssBytes, waitIdle } from './bench-proc.js';

export interface MemoryReading {
  /** VmRSS once idle and settled, without a forced GC: what the process costs as it runs. */
  readonly rssIdle: number;
  /** VmRSS as soon as the CPU went idle, before V8's memory reducer ran. */
  readonly rssUnsettled: number;
  /** The memory reducer was seen before the timeout (else rssIdle is the reading at the timeout). */
  readonly settled: boolean;
  /** After a full GC: RSS, V8 heap, external, array buffers, code, threads, handles. */
  readonly afterGc: ProbeMemory;
}

/** The reducer runs up to three major GCs about 0.6 s apart: quiet this long after one, it is done. */
const REDUCER_DONE_MS = 2_000;
const SETTLE_POLL_MS = 500;

/** The default of `--settle-seconds`: the reducer ran 32 s after start-up with 2,000 clusters. */
export const DEFAULT_SETTLE_MS = 90_000;

/** `settleMs`: how long to wait for the reducer at most (0: read at once, `settled` false). */
export async function settledMemory(pid: number, probe: Probe, settleMs: number, idleTimeoutMs = 30_000): Promise<MemoryReading> {
  await waitIdle(pid, { timeoutMs: idleTimeoutMs });
  const rssUnsettled = rssBytes(pid);
  const settled = settleMs > 0 && (await waitHeapSettled(probe, settleMs));
  const rssIdle = rssBytes(pid);
  const afterGc = await probe.memory(true);
  return { rssIdle, rssUnsettled, settled, afterGc };
}

/** For log lines: whether the reading settled, and the RSS before it did. */
export function settlingNote(reading: MemoryReading): string {
  return `${reading.settled ? 'settled' : 'not settled'}; ${(reading.rssUnsettled / MB).toFixed(1)} MB before`;
}

/** Until the child's last GC was the memory reducer's and REDUCER_DONE_MS passed since. */
async function waitHeapSettled(probe: Probe, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gc = await probe.gcState();
    if (gc?.reducer && gc.lastAgoMs >= REDUCER_DONE_MS) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}

export const MB = 1024 * 1024;
export const KB = 1024;
