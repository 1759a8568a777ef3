/**
 * Simulated agents spread over several child processes (bench-fleet-child.ts), so a fleet
 * of thousands does not share one event loop (nor the bench's) and each child stays well
 * under the file limit. Each child takes whole clusters; counts are summed here.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BenchChild } from './bench-children.js';
import { HOST, REPO_ROOT, type BenchCluster, type BenchEnv } from './bench-env.js';
import type { FleetJob, FleetStatus } from './bench-fleet-child.js';

const ENTRY = join(REPO_ROOT, 'dist/dev/bench/bench-fleet-child.js');

export interface Fleet {
  readonly size: number;
  connected(): number;
  attempts(): number;
  /** Resolve with the ms waited once connected() ≥ n; reject after timeoutMs or if a child dies. */
  waitConnected(n: number, timeoutMs: number): Promise<number>;
  /** Resolve once connected() < n. */
  waitBelow(n: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FleetStart {
  readonly proxyPort: number;
  readonly clusters: readonly BenchCluster[];
  readonly perCluster: number;
  readonly procs: number;
  readonly maxConnecting: number;
}

export function startFleet(env: BenchEnv, options: FleetStart): Fleet {
  const procs = Math.max(1, Math.min(options.procs, options.clusters.length));
  const statuses: FleetStatus[] = [];
  const children: BenchChild[] = [];
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  let failure: Error | undefined;
  let stopping = false;
  for (let p = 0; p < procs; p++) {
    const share = options.clusters.filter((_, i) => i % procs === p);
    const child = env.children.spawn(`fleet-${p}`, { args: [ENTRY], stdin: 'pipe', stdoutPipe: true, cwd: REPO_ROOT });
    children.push(child);
    statuses.push({ connected: 0, attempts: 0, handshakes: 0 });
    const job: FleetJob = {
      proxyUrl: `ws://${HOST}:${options.proxyPort}`,
      clusters: share.map((c) => ({ name: c.name, token: c.token })),
      perCluster: options.perCluster,
      upstream: { kubernetes: `${HOST}:${env.upstream.kubePort}`, kubesphere: `${HOST}:${env.upstream.ksPort}` },
      credentials: { caData: env.upstream.memberCa.certPem, bearerToken: env.upstream.bearerToken },
      maxConnecting: options.maxConnecting,
    };
    child.process.stdin!.write(`${JSON.stringify(job)}\n`);
    createInterface({ input: child.process.stdout! }).on('line', (line) => {
      try {
        statuses[p] = JSON.parse(line) as FleetStatus;
      } catch {
        return;
      }
      changes.emit('change');
    });
    void child.exited.then((code) => {
      if (stopping) return;
      failure ??= new Error(`fleet child ${p} exited (${code}): ${child.stderrTail().trim().slice(-300)}`);
      changes.emit('change');
    });
  }
  const sum = (pick: (s: FleetStatus) => number) => statuses.reduce((n, s) => n + pick(s), 0);
  const connected = () => sum((s) => s.connected);
  const wait = (done: () => boolean, timeoutMs: number, what: () => string): Promise<number> => {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (failure) return finish(failure);
        if (done()) return finish();
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms: ${what()}`)), timeoutMs);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        changes.off('change', check);
        if (error) reject(error);
        else resolve(performance.now() - started);
      };
      changes.on('change', check);
      check();
    });
  };
  return {
    size: options.clusters.length * options.perCluster,
    connected,
    attempts: () => sum((s) => s.attempts),
    waitConnected: (n, timeoutMs) => wait(() => connected() >= n, timeoutMs, () => `${connected()} of ${n} simulated agents connected`),
    waitBelow: async (n, timeoutMs) => void (await wait(() => connected() < n, timeoutMs, () => `still ${connected()} agents connected`)),
    stop: async () => {
      stopping = true;
      for (const child of children) child.process.stdin?.end();
      await Promise.all(children.map((child) => child.stop(10_000)));
    },
  };
}
