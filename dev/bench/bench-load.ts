/**
 * Child-process entry of the bench's load generator: reads one LoadJob (a JSON line) from
 * stdin, runs it, writes one LoadResult (JSON line) to stdout. A held job (`stream`,
 * `watches`) first writes `{"ready":true}` once ready, and stops when stdin ends. Exit 1 with a line on
 * stderr on failure.
 */
import { createInterface } from 'node:readline';
import { runLoadJob, type LoadJob } from './bench-load-jobs.js';

const lines = createInterface({ input: process.stdin });
const stop = new Promise<void>((resolve) => lines.once('close', resolve));
const first = await new Promise<string | undefined>((resolve) => {
  lines.once('line', resolve);
  void stop.then(() => resolve(undefined));
});
try {
  if (first === undefined) throw new Error('no job on stdin');
  const job = JSON.parse(first) as LoadJob;
  const result = await runLoadJob(job, { stop, ready: () => process.stdout.write('{"ready":true}\n') });
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`bench-load: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  // A stream job's parent may still hold stdin open: stop reading it so we can exit.
  lines.close();
  process.stdin.destroy();
}
