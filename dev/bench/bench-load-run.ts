/**
 * Run a load job in a child process (bench-load.js): either to completion (runLoad), or
 * held (startHeld): a `stream` or `watches` job that reports when it is ready and runs
 * until stopped.
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BenchChildren } from './bench-children.js';
import { REPO_ROOT } from './bench-env.js';
import type { LoadJob, LoadResult } from './bench-load-jobs.js';

const LOAD_ENTRY = join(REPO_ROOT, 'dist/dev/bench/bench-load.js');
const READY_TIMEOUT_MS = 60_000;

export async function runLoad<R extends LoadResult>(children: BenchChildren, job: LoadJob & { kind: R['kind'] }): Promise<R> {
  const load = spawnLoad(children, job);
  load.end();
  return (await load.result) as R;
}

export interface HeldLoad<R extends LoadResult> {
  /** Settles once the job is ready (a stream flows, every watch has its first event); rejects if it fails first or after 60 s. */
  readonly ready: Promise<void>;
  /** End the job and return its result. */
  stop(): Promise<R>;
}

export function startHeld<R extends LoadResult>(children: BenchChildren, job: LoadJob & { kind: R['kind'] }): HeldLoad<R> {
  const load = spawnLoad(children, job);
  return {
    ready: load.ready,
    stop: async () => {
      load.end();
      return (await load.result) as R;
    },
  };
}

function spawnLoad(children: BenchChildren, job: LoadJob) {
  const child = children.spawn(`load-${job.kind}`, { args: [LOAD_ENTRY], stdin: 'pipe', stdoutPipe: true, cwd: REPO_ROOT });
  let last = '';
  let onReady: () => void = () => {};
  const readyLine = new Promise<void>((resolve) => (onReady = resolve));
  createInterface({ input: child.process.stdout! }).on('line', (line) => {
    if (line === '{"ready":true}') onReady();
    else if (line.trim()) last = line;
  });
  child.process.stdin?.write(`${JSON.stringify(job)}\n`);
  // The job bounds itself; this is the backstop (plus time to start node).
  const limit = ('maxMs' in job ? job.maxMs : 0) + job.timeoutMs + 10_000;
  const timer = setTimeout(() => void child.kill(), limit);
  const result = child.exited.then((code) => {
    clearTimeout(timer);
    if (code !== 0 || !last) throw new Error(`load ${job.kind} on ${job.target.url} failed (${code}): ${child.stderrTail().trim().slice(-300)}`);
    return JSON.parse(last) as LoadResult;
  });
  let readyTimer: NodeJS.Timeout | undefined;
  const ready = Promise.race([
    readyLine,
    result.then(() => Promise.reject(new Error(`load ${job.kind} on ${job.target.url} ended before it was ready`))),
    new Promise<never>((_, reject) => {
      readyTimer = setTimeout(() => reject(new Error(`load ${job.kind} on ${job.target.url}: not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(readyTimer));
  // Whoever awaits these still sees their rejection; nobody awaiting one is not a crash.
  result.catch(() => {});
  ready.catch(() => {});
  return { result, ready, end: () => child.process.stdin?.end() };
}
