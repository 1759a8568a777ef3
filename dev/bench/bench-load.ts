/**
 * Child-process entry of the bench's load generator: reads one LoadJob (JSON) from stdin,
 * runs it, writes one LoadResult (JSON) to stdout. Exit 1 with a line on stderr on failure.
 */
import { runLoadJob, type LoadJob } from './bench-load-jobs.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
try {
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadJob;
  const result = await runLoadJob(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`bench-load: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
