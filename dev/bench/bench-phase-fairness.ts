/**
 * Fairness phase (issue 11): p50/p99 of 1 KiB GETs on the kube path of a cluster (one
 * keep-alive client, sequential) while one bulk download runs on the same cluster, beside
 * the same GETs with the cluster idle. Through the tunnel both share the agent's one
 * SSH connection; the same pair measured directly against the upstream is the control
 * (what the shared 2 cores alone do to the GETs). Each run: tunnel idle, tunnel during
 * bulk, direct idle, direct during bulk; the bulk is a separate client process.
 */
import type { BenchEnv } from './bench-env.js';
import type { LatencyResult, LoadTarget, StreamResult } from './bench-load-jobs.js';
import { runLoad, startHeld } from './bench-load-run.js';
import { figure, type Figure } from './bench-report.js';
import { median } from './bench-stats.js';
import { startTunnel } from './bench-tunnel.js';

/** Body of the background download (the upstream's largest): more than it moves while the GETs run. */
const STREAM_BYTES = 16 * 1024 ** 3;

export interface FairnessPair {
  readonly idle: LatencyResult;
  readonly loaded: LatencyResult;
  /** The background download while the loaded GETs ran. */
  readonly bulk: StreamResult;
}

export interface FairnessRun {
  readonly tunnel: FairnessPair;
  readonly direct: FairnessPair;
}

export interface FairnessOptions {
  readonly runs: number;
  readonly requests: number;
  readonly log: (line: string) => void;
}

export async function runFairnessPhase(env: BenchEnv, options: FairnessOptions): Promise<FairnessRun[]> {
  const tunnel = await startTunnel(env, { name: 'fairness' });
  const runs: FairnessRun[] = [];
  try {
    const pair = async (target: LoadTarget): Promise<FairnessPair> => {
      const gets = () =>
        runLoad<LatencyResult>(env.children, {
          kind: 'latency',
          target: { ...target, url: `${target.url}/version` },
          count: options.requests,
          warmup: 20,
          reuse: 'connection',
          timeoutMs: 120_000,
        });
      const idle = await gets();
      const stream = startHeld<StreamResult>(env.children, { kind: 'stream', target: { ...target, url: `${target.url}/bytes?n=${STREAM_BYTES}` }, maxMs: 600_000, timeoutMs: 60_000 });
      let loaded: LatencyResult;
      let bulk: StreamResult;
      try {
        await stream.ready;
        loaded = await gets();
      } finally {
        bulk = await stream.stop();
      }
      return { idle, loaded, bulk };
    };
    for (let run = 1; run <= options.runs; run++) {
      const result: FairnessRun = { tunnel: await pair(tunnel.paths.kube.tunnel), direct: await pair(tunnel.paths.kube.direct) };
      runs.push(result);
      const t = result.tunnel;
      const d = result.direct;
      options.log(
        `fairness run ${run}: tunnel p50/p99 ${t.idle.p50Ms.toFixed(2)}/${t.idle.p99Ms.toFixed(2)} ms idle,` +
          ` ${t.loaded.p50Ms.toFixed(2)}/${t.loaded.p99Ms.toFixed(2)} ms during bulk (${t.bulk.mbPerSecond.toFixed(0)} MB/s);` +
          ` direct ${d.idle.p50Ms.toFixed(2)}/${d.idle.p99Ms.toFixed(2)} → ${d.loaded.p50Ms.toFixed(2)}/${d.loaded.p99Ms.toFixed(2)} ms`,
      );
    }
  } finally {
    await tunnel.stop();
  }
  return runs;
}

export function fairnessFigures(runs: readonly FairnessRun[] | undefined): Figure[] {
  if (!runs?.length) return [];
  const idleP99 = median(runs.map((r) => r.tunnel.idle.p99Ms));
  const note = 'direct column: the same GETs with the cluster idle';
  return [
    figure({ key: 'fairness.p50Ms', label: '1 KiB GET p50 during a bulk GET, same cluster (kube)', unit: 'ms', runs: runs.map((r) => r.tunnel.loaded.p50Ms), direct: runs.map((r) => r.tunnel.idle.p50Ms), note }),
    figure({
      key: 'fairness.p99Ms',
      label: '1 KiB GET p99 during a bulk GET, same cluster (kube)',
      unit: 'ms',
      runs: runs.map((r) => r.tunnel.loaded.p99Ms),
      direct: runs.map((r) => r.tunnel.idle.p99Ms),
      // Issue 11: ≤ 2 × its idle p99 + 2 ms, from this run's idle median.
      ...(idleP99 !== null ? { target: { op: '<=' as const, value: 2 * idleP99 + 2 } } : {}),
      note,
    }),
    figure({
      key: 'fairness.control.p99Ms',
      label: 'control: 1 KiB GET p99 during a bulk GET, direct',
      unit: 'ms',
      runs: runs.map((r) => r.direct.loaded.p99Ms),
      direct: runs.map((r) => r.direct.idle.p99Ms),
      note: 'direct column: the same direct GETs with no download running',
    }),
    figure({ key: 'fairness.bulkMbPerSecond', label: 'the bulk GET meanwhile, kube (direct col = direct)', unit: 'MB/s', runs: runs.map((r) => r.tunnel.bulk.mbPerSecond), direct: runs.map((r) => r.direct.bulk.mbPerSecond) }),
  ];
}
