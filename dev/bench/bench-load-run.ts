/** Run one load job in a child process (bench-load.js) and return its result. */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BenchChildren } from './bench-children.js';
import { REPO_ROOT } from './bench-env.js';
import type { LoadJob, LoadResult, StreamResult } from './bench-load-jobs.js';

const LOAD_ENTRY = join(REPO_ROOT, 'dist/dev/bench/bench-load.js');
const FLOW_TIMEOUT_MS = 60_000;

export async function runLoad<R extends LoadResult>(children: BenchChildren, job: LoadJob & { kind: R['kind'] }): Promise<R> {
  const load = spawnLoad(children, job);
  load.child.process.stdin?.end();
  return (await load.result) as R;
}

export interface RunningStream {
  /** Settles once the body flows (1 MiB received); rejects if the job fails first or after 60 s. */
  readonly flowing: Promise<void>;
  /** End the stream and return what it moved while flowing. */
  stop(): Promise<StreamResult>;
}

/** Start a `stream` job: a long GET that runs until stop(). */
export function startStream(children: BenchChildren, job: LoadJob & { kind: 'stream' }): RunningStream {
  const load = spawnLoad(children, job);
  return {
    flowing: load.flowing,
    stop: async () => {
      load.child.process.stdin?.end();
      return (await load.result) as StreamResult;
    },
  };
}

function spawnLoad(children: BenchChildren, job: LoadJob) {
  const child = children.spawn(`load-${job.kind}`, { args: [LOAD_ENTRY], stdin: 'pipe', stdoutPipe: true, cwd: REPO_ROOT });
  let last = '';
  let onFlowing: () => void = () => {};
  const flowing = new Promise<void>((resolve) => (onFlowing = resolve));
  createInterface({ input: child.process.stdout! }).on('line', (line) => {
    if (line === '{"flowing":true}') onFlowing();
    else if (line.trim()) last = line;
  });
  child.process.stdin?.write(`${JSON.stringify(job)}\n`);
  // The job bounds itself; this is the backstop (plus time to start node).
  const limit = (job.kind === 'stream' ? job.maxMs : 0) + job.timeoutMs + 10_000;
  const timer = setTimeout(() => void child.kill(), limit);
  const result = child.exited.then((code) => {
    clearTimeout(timer);
    if (code !== 0 || !last) throw new Error(`load ${job.kind} on ${job.target.url} failed (${code}): ${child.stderrTail().trim().slice(-300)}`);
    return JSON.parse(last) as LoadResult;
  });
  let flowTimer: NodeJS.Timeout | undefined;
  const flowingOrFailed = Promise.race([
    flowing,
    result.then(() => Promise.reject(new Error(`load ${job.kind} on ${job.target.url} ended before it flowed`))),
    new Promise<never>((_, reject) => {
      flowTimer = setTimeout(() => reject(new Error(`load ${job.kind} on ${job.target.url}: no body within ${FLOW_TIMEOUT_MS} ms`)), FLOW_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(flowTimer));
  // Whoever awaits these still sees their rejection; nobody awaiting one is not a crash.
  result.catch(() => {});
  flowingOrFailed.catch(() => {});
  return { child, result, flowing: flowingOrFailed };
}
