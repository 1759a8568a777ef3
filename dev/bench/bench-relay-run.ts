/** Start a delaying relay (bench-relay-child.js) in a child process and stop it, with its stats. */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BenchEnv } from './bench-env.js';
import { HOST, REPO_ROOT } from './bench-env.js';
import type { RelayStats } from './bench-relay.js';

const ENTRY = join(REPO_ROOT, 'dist/dev/bench/bench-relay-child.js');
/** Per direction of each connection: far more than any bandwidth-delay product here (1 GB/s × 100 ms). */
export const RELAY_CAP_BYTES = 256 * 1024 * 1024;

export interface RelayChild {
  readonly port: number;
  /** Stop the relay (closing every connection through it) and return what it moved. */
  stop(): Promise<RelayStats | undefined>;
}

export async function startRelayChild(env: BenchEnv, name: string, targetPort: number, rttMs: number): Promise<RelayChild> {
  const child = env.children.spawn(name, { args: [ENTRY], stdin: 'pipe', stdoutPipe: true, cwd: REPO_ROOT });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.process.stdout! }).on('line', (line) => {
    lines.push(line);
    waiters.splice(0).forEach((wake) => wake());
  });
  const nextLine = async (timeoutMs: number): Promise<string | undefined> => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      if (child.hasExited() || Date.now() > deadline) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
    return lines.shift();
  };
  child.process.stdin!.write(`${JSON.stringify({ targetHost: HOST, targetPort, delayMs: rttMs / 2, capBytes: RELAY_CAP_BYTES })}\n`);
  const first = await nextLine(15_000);
  if (!first) {
    await child.stop();
    throw new Error(`relay ${name} did not start: ${child.stderrTail().trim().slice(-300)}`);
  }
  const { port } = JSON.parse(first) as { port: number };
  return {
    port,
    stop: async () => {
      child.process.stdin!.end();
      const last = await nextLine(10_000);
      await child.stop();
      return last ? (JSON.parse(last) as RelayStats) : undefined;
    },
  };
}
