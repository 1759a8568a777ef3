/** Run one load job in a child process (bench-load.js) and return its result. */
import { join } from 'node:path';
import type { BenchChildren } from './bench-children.js';
import { REPO_ROOT } from './bench-env.js';
import type { LoadJob, LoadResult } from './bench-load-jobs.js';

const LOAD_ENTRY = join(REPO_ROOT, 'dist/dev/bench/bench-load.js');

export async function runLoad<R extends LoadResult>(children: BenchChildren, job: LoadJob & { kind: R['kind'] }): Promise<R> {
  const child = children.spawn(`load-${job.kind}`, { args: [LOAD_ENTRY], stdin: 'pipe', stdoutPipe: true, cwd: REPO_ROOT });
  let out = '';
  child.process.stdout?.setEncoding('utf8');
  child.process.stdout?.on('data', (text: string) => (out += text));
  child.process.stdin?.end(JSON.stringify(job));
  // The job bounds itself; this is the backstop (plus time to start node).
  const timer = setTimeout(() => void child.kill(), job.timeoutMs + 10_000);
  const code = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`load ${job.kind} on ${job.target.url} failed (${code}): ${child.stderrTail().trim().slice(-300)}`);
  return JSON.parse(out) as R;
}
