/**
 * Footprint phase (issue 10): the proxy's memory with 0 / 200 / 2,000 configured clusters
 * and no agent, in `--clusters` file mode and in Kubernetes mode (Cluster objects in a
 * devcluster, reconciled by the proxy's controller: Service, endpoints, Initialized).
 * Each run starts a fresh proxy per count (counts interleaved within a run), waits until it
 * is idle (and, in Kubernetes mode, until every Cluster is Initialized) and V8 has settled
 * its heap, reads VmRSS, then forces a GC through the probe and reads the breakdown
 * (bench-memory.ts). The RSS before V8 settled is reported too.
 */
import type { BenchCluster, BenchEnv } from './bench-env.js';
import { startBenchDevCluster, type BenchDevCluster } from './bench-devcluster.js';
import { figure, type Figure } from './bench-report.js';
import { KB, MB, settledMemory, settlingNote, type MemoryReading } from './bench-memory.js';
import { metricSum, scrapeMetrics } from './bench-metrics.js';

export type FootprintMode = 'file' | 'kube';

export interface FootprintRun extends MemoryReading {
  readonly clusters: number;
  /** Proxy start until /health answers (and, in Kubernetes mode, every Cluster Initialized). */
  readonly readySeconds: number;
}

export interface FootprintOptions {
  readonly counts: readonly number[];
  readonly modes: ReadonlySet<FootprintMode>;
  readonly runs: number;
  readonly log: (line: string) => void;
}

export interface FootprintResult {
  /** By mode, by configured-cluster count: one entry per run. */
  readonly file?: Record<number, FootprintRun[]>;
  readonly kube?: Record<number, FootprintRun[]>;
}

export async function runFootprintPhase(env: BenchEnv, options: FootprintOptions): Promise<FootprintResult> {
  const counts = [...options.counts].sort((a, b) => a - b);
  const max = counts[counts.length - 1] ?? 0;
  const all = await env.clusters('fp', max);
  const result: { file?: Record<number, FootprintRun[]>; kube?: Record<number, FootprintRun[]> } = {};
  if (options.modes.has('file')) {
    const files = new Map<number, string>();
    for (const n of counts) files.set(n, await env.writeClusters(`clusters-footprint-${n}.json`, all.slice(0, n)));
    const byCount: Record<number, FootprintRun[]> = {};
    for (let run = 1; run <= options.runs; run++) {
      for (const n of counts) {
        const reading = await fileRun(env, files.get(n)!, n, `proxy-footprint-file-${n}-${run}`);
        (byCount[n] ??= []).push(reading);
        options.log(`footprint file run ${run}: ${n} clusters, ${rssLine(reading)}`);
      }
    }
    result.file = byCount;
  }
  if (options.modes.has('kube')) {
    result.kube = await kubeRuns(env, all, counts, options);
  }
  return result;
}

async function fileRun(env: BenchEnv, clustersFile: string, n: number, logName: string): Promise<FootprintRun> {
  const [port] = await env.ports(1);
  const started = performance.now();
  const proxy = await env.startProxy({ port: port!, clustersFile, logName, healthTimeoutMs: 60_000 });
  try {
    const readySeconds = (performance.now() - started) / 1000;
    return { clusters: n, readySeconds, ...(await settledMemory(proxy.child.pid, proxy.probe, env.settleMs)) };
  } finally {
    await proxy.child.stop();
  }
}

/** One devcluster; Cluster objects added as the counts grow; a fresh proxy per count and run. */
async function kubeRuns(env: BenchEnv, all: readonly BenchCluster[], counts: readonly number[], options: FootprintOptions): Promise<Record<number, FootprintRun[]>> {
  const byCount: Record<number, FootprintRun[]> = {};
  const dc = await startBenchDevCluster(env, 'footprint-host');
  try {
    let created = 0;
    for (const n of counts) {
      await dc.createClusters(all.slice(created, n));
      created = n;
      for (let run = 1; run <= options.runs; run++) {
        const reading = await kubeRun(env, dc, n, `proxy-footprint-kube-${n}-${run}`);
        (byCount[n] ??= []).push(reading);
        options.log(
          `footprint kube run ${run}: ${n} clusters, ready in ${reading.readySeconds.toFixed(1)} s, ${rssLine(reading)}`,
        );
      }
    }
  } finally {
    await dc.stop();
  }
  return byCount;
}

async function kubeRun(env: BenchEnv, dc: BenchDevCluster, n: number, logName: string): Promise<FootprintRun> {
  const [port] = await env.ports(1);
  const started = performance.now();
  const proxy = await env.startProxy({ port: port!, kubeconfig: dc.kubeconfig, logName, healthTimeoutMs: 120_000 });
  try {
    // Ready: every Cluster Initialized (kept across runs in the devcluster) and reconciled by
    // this proxy at least as many times as there are Clusters; then idle (settledMemory).
    const timeoutMs = 60_000 + 100 * n;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const initialized = await dc.countCondition('Initialized');
      const text = await scrapeMetrics(port!);
      const reconciled = text ? (metricSum(text, 'tower_controller_reconciles_total', { result: 'ok' }) ?? 0) : 0;
      if (initialized >= n && reconciled >= n) break;
      if (proxy.child.hasExited()) throw new Error(`${logName} exited: ${proxy.child.stderrTail().slice(-300)}`);
      if (Date.now() > deadline) throw new Error(`${logName}: after ${timeoutMs} ms ${initialized} of ${n} Clusters Initialized, ${reconciled} reconciles`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const readySeconds = (performance.now() - started) / 1000;
    return { clusters: n, readySeconds, ...(await settledMemory(proxy.child.pid, proxy.probe, env.settleMs, 60_000)) };
  } finally {
    await proxy.child.stop();
  }
}

function rssLine(reading: MemoryReading): string {
  const mb = (bytes: number) => (bytes / MB).toFixed(1);
  return `RSS ${mb(reading.rssIdle)} MB idle (${settlingNote(reading)}), ${mb(reading.afterGc.rss)} MB after GC`;
}

export function footprintFigures(result: FootprintResult | undefined): Figure[] {
  const figures: Figure[] = [];
  for (const mode of ['file', 'kube'] as const) {
    const byCount = result?.[mode];
    if (!byCount) continue;
    const what = mode === 'file' ? '--clusters file' : 'Kubernetes mode';
    const counts = Object.keys(byCount).map(Number).sort((a, b) => a - b);
    const zero = byCount[0];
    for (const n of counts) {
      const runs = byCount[n]!;
      figures.push(
        figure({
          key: `footprint.${mode}.${n}.rssMb`,
          reference: `footprint.${n}.rssMb`,
          label: `proxy RSS, ${n} clusters configured, no agent (${what})`,
          unit: 'MB',
          runs: runs.map((r) => r.rssIdle / MB),
          ...(n > 0 && zero ? { direct: zero.map((r) => r.rssIdle / MB), note: 'direct column: the same proxy with 0 clusters' } : {}),
        }),
        figure({
          key: `footprint.${mode}.${n}.rssUnsettledMb`,
          label: `proxy RSS, ${n} clusters, in its first seconds (before V8 settles its heap)`,
          unit: 'MB',
          runs: runs.map((r) => r.rssUnsettled / MB),
        }),
        figure({
          key: `footprint.${mode}.${n}.heapUsedMb`,
          label: `proxy V8 heap used after GC, ${n} clusters (${what})`,
          unit: 'MB',
          runs: runs.map((r) => r.afterGc.heapUsed / MB),
        }),
      );
    }
    // Growth per configured cluster between the two largest counts, per run.
    if (counts.length >= 2) {
      const hi = counts[counts.length - 1]!;
      const lo = counts[counts.length - 2]!;
      const per = (pick: (r: FootprintRun) => number) =>
        byCount[hi]!.map((r, i) => {
          const base = byCount[lo]![i];
          return base ? (pick(r) - pick(base)) / (hi - lo) / KB : null;
        });
      figures.push(
        figure({
          key: `footprint.${mode}.perClusterKb`,
          reference: 'footprint.perClusterKb',
          label: `proxy RSS per configured cluster, ${lo}→${hi} (${what})`,
          unit: 'KB',
          runs: per((r) => r.rssIdle),
        }),
        figure({ key: `footprint.${mode}.heapPerClusterKb`, label: `proxy V8 heap per configured cluster, ${lo}→${hi} (${what})`, unit: 'KB', runs: per((r) => r.afterGc.heapUsed) }),
      );
    }
  }
  return figures;
}
