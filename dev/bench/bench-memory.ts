/**
 * A memory reading of a child that carries the probe: wait until it is idle (its CPU use
 * has stopped), read RSS as `ps` would show it, then force a full GC and read the breakdown.
 */
import type { Probe } from './bench-probe-client.js';
import type { ProbeMemory } from './bench-probe.js';
import { rssBytes, waitIdle } from './bench-proc.js';

export interface MemoryReading {
  /** VmRSS once idle, without a forced GC: what the process costs as it runs. */
  readonly rssIdle: number;
  /** After a full GC: RSS, V8 heap, external, array buffers, code, threads, handles. */
  readonly afterGc: ProbeMemory;
}

export async function settledMemory(pid: number, probe: Probe, idleTimeoutMs = 30_000): Promise<MemoryReading> {
  await waitIdle(pid, { timeoutMs: idleTimeoutMs });
  const rssIdle = rssBytes(pid);
  const afterGc = await probe.memory(true);
  return { rssIdle, afterGc };
}

export const MB = 1024 * 1024;
export const KB = 1024;
