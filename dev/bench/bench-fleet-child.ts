/**
 * Child-process entry of the fleet phase: runs a share of the simulated agents. Reads one
 * FleetJob (JSON) from stdin, connects its agents, and writes a FleetStatus line (JSON) to
 * stdout whenever the connected count changed (at most every 50 ms). Closes every agent
 * and exits when stdin ends or on SIGTERM/SIGINT.
 */
import { createInterface } from 'node:readline';
import { startSimAgents, type SimAgents } from '../sim/index.js';
import type { SimAgentsOptions } from '../sim/sim-options.js';

export interface FleetJob {
  readonly proxyUrl: string;
  readonly clusters: SimAgentsOptions['clusters'];
  readonly perCluster: number;
  readonly upstream: SimAgentsOptions['upstream'];
  readonly credentials: { readonly caData: string; readonly bearerToken: string };
  readonly maxConnecting: number;
}

export interface FleetStatus {
  readonly connected: number;
  readonly attempts: number;
  readonly handshakes: number;
}

const STATUS_INTERVAL_MS = 50;

let sims: SimAgents | undefined;
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await sims?.close();
  process.exit(code);
};
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));

const lines = createInterface({ input: process.stdin });
let started = false;
lines.on('line', (line) => {
  if (started || !line.trim()) return;
  started = true;
  try {
    const job = JSON.parse(line) as FleetJob;
    sims = startSimAgents({ ...job, credentials: job.credentials });
  } catch (error) {
    process.stderr.write(`bench-fleet-child: ${error instanceof Error ? error.message : String(error)}\n`);
    return void stop(1);
  }
  const running = sims;
  let timer: NodeJS.Timeout | undefined;
  const report = () => {
    timer = undefined;
    const s = running.stats();
    const status: FleetStatus = { connected: s.connected, attempts: s.attempts, handshakes: s.handshakes };
    process.stdout.write(`${JSON.stringify(status)}\n`);
  };
  running.onChange(() => {
    timer ??= setTimeout(report, STATUS_INTERVAL_MS);
  });
  report();
});
// The parent closing our stdin (or dying) is the signal to stop.
lines.on('close', () => void stop(0));
