/**
 * Worker placement of the SSH session engine, measured: the bench's bulk and small-request
 * phases (bench-phase-transfer.ts, same upstream, real proxy and agent binaries) with the
 * proxy started inline (`--data-plane-threads 0`) and with N threads, runs interleaved so
 * both see the same machine load. Prints the medians side by side; `--json` prints them
 * with every run.
 *
 *   node dist/dev/bench/bench-data-plane.js [--threads 2] [--runs 3] [--bulk-mib 200]
 *                                          [--requests 500] [--rps-seconds 5] [--json]
 *                                          [--proxy-node-arg ARG]...   (e.g. --cpu-prof)
 */
import { parseArgs } from 'node:util';
import { createBenchEnv, type BenchEnv } from './bench-env.js';
import { runTransferPhase, type TransferRun } from './bench-phase-transfer.js';
import { median } from './bench-stats.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    'bulk-mib': { type: 'string', default: '200' },
    requests: { type: 'string', default: '500' },
    'rps-seconds': { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    'proxy-node-arg': { type: 'string', multiple: true },
  },
});
const positive = (flag: string, text: string | undefined): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} ${text}: must be a positive integer`);
  return n;
};
const threads = positive('threads', values.threads);
const runs = positive('runs', values.runs);
const bulkBytes = positive('bulk-mib', values['bulk-mib']) * 1024 * 1024;
const latencyCount = positive('requests', values.requests);
const rpsDurationMs = positive('rps-seconds', values['rps-seconds']) * 1000;
const log = (line: string) => process.stderr.write(`bench-data-plane: ${line}\n`);

/** The bench environment, with the proxy started with `--data-plane-threads n`. */
function withThreads(env: BenchEnv, n: number): BenchEnv {
  return { ...env, startProxy: (options) => env.startProxy({ ...options, extraArgs: ['--data-plane-threads', String(n)] }) };
}

interface Summary {
  readonly bulkKubeMBs: number | null;
  readonly bulkKsMBs: number | null;
  readonly proxyCpuPerGbKube: number | null;
  readonly allCpuPerGbKube: number | null;
  readonly eldBulkP99Ms: number | null;
  readonly eldBulkMaxMs: number | null;
  readonly kubeP50Ms: number | null;
  readonly kubeP99Ms: number | null;
  readonly ksP50Ms: number | null;
  readonly ksP99Ms: number | null;
  readonly kubeRps: number | null;
}

function summarize(all: readonly TransferRun[]): Summary {
  const m = (pick: (run: TransferRun) => number | null | undefined) => median(all.map(pick));
  return {
    bulkKubeMBs: m((r) => r.bulkKube?.tunnel.mbPerSecond),
    bulkKsMBs: m((r) => r.bulkKs?.tunnel.mbPerSecond),
    proxyCpuPerGbKube: m((r) => r.bulkKube?.proxyCpuPerGb),
    allCpuPerGbKube: m((r) => r.bulkKube?.cpuPerGb.tunnel.total),
    eldBulkP99Ms: m((r) => r.eldBulk?.p99Ms),
    eldBulkMaxMs: m((r) => r.eldBulk?.maxMs),
    kubeP50Ms: m((r) => r.latency?.tunnel.p50Ms),
    kubeP99Ms: m((r) => r.latency?.tunnel.p99Ms),
    ksP50Ms: m((r) => r.latencyKs?.tunnel.p50Ms),
    ksP99Ms: m((r) => r.latencyKs?.tunnel.p99Ms),
    kubeRps: m((r) => r.rps?.tunnel.rps),
  };
}

const ROWS: ReadonlyArray<[keyof Summary, string, number]> = [
  ['bulkKubeMBs', 'bulk GET, kube HTTPS path (MB/s)', 0],
  ['bulkKsMBs', 'bulk GET, ks HTTP path (MB/s)', 0],
  ['proxyCpuPerGbKube', 'proxy CPU per GB, kube path (s/GB)', 2],
  ['allCpuPerGbKube', 'all processes CPU per GB, kube path (s/GB)', 2],
  ['eldBulkP99Ms', 'proxy event-loop delay p99 during kube bulk (ms)', 1],
  ['eldBulkMaxMs', 'proxy event-loop delay max during kube bulk (ms)', 1],
  ['kubeP50Ms', '1 KB GET p50, new TLS connection each, kube (ms)', 2],
  ['kubeP99Ms', '1 KB GET p99, new TLS connection each, kube (ms)', 2],
  ['ksP50Ms', '1 KB GET p50, new connection each, ks HTTP (ms)', 2],
  ['ksP99Ms', '1 KB GET p99, new connection each, ks HTTP (ms)', 2],
  ['kubeRps', '1 KB GET, 32 keep-alive clients, kube (req/s)', 0],
];

async function main(): Promise<void> {
  const env = await createBenchEnv({ proxyNodeArgs: values['proxy-node-arg'] ?? [] });
  const results: Record<'inline' | 'threads', TransferRun[]> = { inline: [], threads: [] };
  try {
    for (let run = 1; run <= runs; run++) {
      for (const [mode, n] of [['inline', 0], ['threads', threads]] as const) {
        log(`run ${run}/${runs}: --data-plane-threads ${n}`);
        const [result] = await runTransferPhase(withThreads(env, n), {
          runs: 1,
          bulkBytes,
          latencyCount,
          rpsConcurrency: 32,
          rpsDurationMs,
          bulk: true,
          small: true,
          log: (line) => log(`  ${mode}: ${line}`),
        });
        if (result) results[mode].push(result);
      }
    }
  } finally {
    await env.close();
  }
  const inline = summarize(results.inline);
  const worker = summarize(results.threads);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ threads, runs, bulkBytes, latencyCount, inline, worker, raw: results }, null, 2)}\n`);
    return;
  }
  const cell = (v: number | null, digits: number) => (v === null ? '–' : v.toFixed(digits));
  const lines = [
    `| figure (median of ${runs}) | inline (0) | ${threads} threads | threads ÷ inline |`,
    '|---|---:|---:|---:|',
    ...ROWS.map(([key, label, digits]) => {
      const a = inline[key];
      const b = worker[key];
      const ratio = a && b ? `${(b / a).toFixed(2)}×` : '';
      return `| ${label} | ${cell(a, digits)} | ${cell(b, digits)} | ${ratio} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-data-plane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
