/**
 * Preloaded into the proxy and agent children of the bench (`node --import …/bench-probe.js`)
 * so memory can be read from inside them without `--inspect` (which costs memory itself):
 * the bench writes a command to `$TOWER_BENCH_PROBE.cmd` and sends SIGUSR2; the probe runs
 * it on the main thread and writes the answer to `$TOWER_BENCH_PROBE.out`.
 *
 * Commands: `memory` (optionally after a full GC): process.memoryUsage(), V8 heap spaces and
 * code statistics, /proc/self/status, active handles by kind; `snapshot` (a heap snapshot
 * to a file); `eld-start` / `eld-read` (event-loop delay histogram over a window);
 * `gc-state`: how long ago the last GC was and whether it was V8's memory reducer.
 * Apart from a GC observer (one entry per GC), nothing runs until a command arrives;
 * nothing in the product is changed.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

/** Sampling interval of the event-loop histogram; an idle loop reads about this much. */
const ELD_RESOLUTION_MS = 10;

export type ProbeCommand =
  | { readonly seq: number; readonly op: 'memory'; readonly gc: boolean }
  | { readonly seq: number; readonly op: 'snapshot'; readonly path: string }
  | { readonly seq: number; readonly op: 'eld-start' }
  | { readonly seq: number; readonly op: 'eld-read' }
  | { readonly seq: number; readonly op: 'gc-state' };

export interface ProbeMemory {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** V8 heap spaces: used bytes by space name (old_space, code_space, large_object_space…). */
  readonly spaces: Readonly<Record<string, number>>;
  /** Bytecode and metadata, from v8.getHeapCodeStatistics(). */
  readonly code: { readonly codeAndMetadata: number; readonly bytecodeAndMetadata: number; readonly externalScript: number };
  /** V8's malloced memory (outside the JS heap). */
  readonly mallocedMemory: number;
  /** From /proc/self/status, bytes: anonymous, file-backed (code mapped from disk) and shared RSS. */
  readonly rssAnon: number;
  readonly rssFile: number;
  readonly rssShmem: number;
  /** OS threads of the process (main, libuv pool, V8 platform, worker threads). */
  readonly threads: number;
  /** process.getActiveResourcesInfo() counted by kind (TCPSocketWrap, TCPServerWrap, Timeout…). */
  readonly resources: Readonly<Record<string, number>>;
}

export interface ProbeEld {
  /** Delay beyond the sampling interval, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly samples: number;
}

/** The last GC the process ran (none yet: null). */
export interface ProbeGcState {
  readonly lastAgoMs: number;
  /** It was V8's memory reducer: a major GC, not forced, collecting all external memory. */
  readonly reducer: boolean;
}

export type ProbeAnswer =
  | {
      readonly seq: number;
      readonly ok: true;
      readonly memory?: ProbeMemory;
      readonly path?: string;
      readonly eld?: ProbeEld | null;
      readonly gc?: ProbeGcState | null;
    }
  | { readonly seq: number; readonly ok: false; readonly error: string };

let histogram: IntervalHistogram | undefined;
let lastGc: { readonly at: number; readonly reducer: boolean } | undefined;

/**
 * V8 keeps a heap grown at start-up (a 16 MB young generation, old-space pages) until its
 * memory reducer runs, some seconds after the process went quiet: major GCs flagged to
 * collect all external memory. The bench waits for it before reading RSS (bench-memory.ts).
 */
function watchGc(): void {
  const { NODE_PERFORMANCE_GC_MAJOR, NODE_PERFORMANCE_GC_FLAGS_FORCED, NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY } = perfConstants;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { kind, flags } = (entry as unknown as { detail: { kind: number; flags: number } }).detail;
      const reducer = kind === NODE_PERFORMANCE_GC_MAJOR && (flags & NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY) !== 0 && (flags & NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0;
      lastGc = { at: entry.startTime + entry.duration, reducer };
    }
  }).observe({ entryTypes: ['gc'] });
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) return gc();
  v8.setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function statusBytes(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status);
  return match ? Number(match[1]) * (field === 'Threads' ? 1 : 1024) : 0;
}

function memory(gc: boolean): ProbeMemory {
  if (gc) {
    // Twice: the first pass can leave weak/finalized objects for the second.
    fullGc();
    fullGc();
  }
  const usage = process.memoryUsage();
  const heap = v8.getHeapStatistics();
  const code = v8.getHeapCodeStatistics();
  const spaces: Record<string, number> = {};
  for (const space of v8.getHeapSpaceStatistics()) spaces[space.space_name] = space.space_used_size;
  const status = readFileSync('/proc/self/status', 'utf8');
  const resources: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) resources[kind] = (resources[kind] ?? 0) + 1;
  return {
    rss: usage.rss,
    heapTotal: usage.heapTotal,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    spaces,
    code: {
      codeAndMetadata: code.code_and_metadata_size,
      bytecodeAndMetadata: code.bytecode_and_metadata_size,
      externalScript: code.external_script_source_size,
    },
    mallocedMemory: heap.malloced_memory,
    rssAnon: statusBytes(status, 'RssAnon'),
    rssFile: statusBytes(status, 'RssFile'),
    rssShmem: statusBytes(status, 'RssShmem'),
    threads: statusBytes(status, 'Threads'),
    resources,
  };
}

function eldRead(): ProbeEld | null {
  const h = histogram;
  histogram = undefined;
  if (!h) return null;
  h.disable();
  if (h.count === 0) return null;
  const beyond = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
  return { p50Ms: beyond(h.percentile(50)), p99Ms: beyond(h.percentile(99)), maxMs: beyond(h.max), samples: h.count };
}

function run(command: ProbeCommand): ProbeAnswer {
  switch (command.op) {
    case 'memory':
      return { seq: command.seq, ok: true, memory: memory(command.gc) };
    case 'snapshot':
      fullGc();
      return { seq: command.seq, ok: true, path: v8.writeHeapSnapshot(command.path) };
    case 'eld-start':
      histogram?.disable();
      histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
      histogram.enable();
      return { seq: command.seq, ok: true };
    case 'eld-read':
      return { seq: command.seq, ok: true, eld: eldRead() };
    case 'gc-state':
      return { seq: command.seq, ok: true, gc: lastGc ? { lastAgoMs: performance.now() - lastGc.at, reducer: lastGc.reducer } : null };
  }
}

const base = process.env['TOWER_BENCH_PROBE'];
if (base && isMainThread) {
  watchGc();
  process.on('SIGUSR2', () => {
    let answer: ProbeAnswer;
    let seq = -1;
    try {
      const command = JSON.parse(readFileSync(`${base}.cmd`, 'utf8')) as ProbeCommand;
      seq = command.seq;
      answer = run(command);
    } catch (error) {
      answer = { seq, ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    writeFileSync(`${base}.out.tmp`, JSON.stringify(answer));
    renameSync(`${base}.out.tmp`, `${base}.out`);
  });
}
