/**
 * Bulk and small-request phases: one cluster served by the real proxy and the real agent
 * (child processes), each figure measured through the tunnel and directly against the
 * same upstream, runs interleaved. Proxy CPU from /proc; event-loop delay of the proxy
 * during the kube-path bulk transfer.
 */
import type { BenchEnv, ProxyChild } from './bench-env.js';
import { EldProbe, type EldReading } from './bench-eld.js';
import type { BulkResult, LatencyResult, LoadTarget, Reuse, RpsResult } from './bench-load-jobs.js';
import { runLoad } from './bench-load-run.js';
import { cpuSeconds } from './bench-proc.js';
import { targets, waitTunnel, type PathPair } from './bench-tunnel.js';

export interface TransferOptions {
  readonly runs: number;
  readonly bulkBytes: number;
  readonly latencyCount: number;
  readonly rpsConcurrency: number;
  readonly rpsDurationMs: number;
  readonly bulk: boolean;
  readonly small: boolean;
  readonly log: (line: string) => void;
}

export interface BulkRun {
  readonly direct: BulkResult;
  readonly tunnel: BulkResult;
  /** Proxy CPU seconds per GB moved through the tunnel. */
  readonly proxyCpuPerGb: number;
  /**
   * CPU seconds per GB of every process involved: client and upstream directly; client,
   * proxy, agent and upstream through the tunnel. On a machine with C cores a path cannot
   * go faster than C ÷ total GB/s, whatever the latency.
   */
  readonly cpuPerGb: {
    readonly direct: { readonly client: number; readonly upstream: number; readonly total: number };
    readonly tunnel: { readonly client: number; readonly proxy: number; readonly agent: number; readonly upstream: number; readonly total: number };
  };
}

export interface TransferRun {
  readonly bulkKube?: BulkRun;
  readonly bulkKs?: BulkRun;
  readonly eldBulk?: EldReading;
  readonly latency?: { readonly direct: LatencyResult; readonly tunnel: LatencyResult };
  /**
   * Where the tunnel's new-connection latency goes: the member directly with a client
   * certificate (what the tunnel's clients present, and the proxy verifies); and returning
   * clients that resume their TLS session, through the tunnel and to the member with its certificate.
   */
  readonly latencyCert?: { readonly direct: LatencyResult };
  readonly latencyResumed?: { readonly direct: LatencyResult; readonly tunnel: LatencyResult };
  /** The same on the plain-HTTP ks path (no TLS handshake per request). */
  readonly latencyKs?: { readonly direct: LatencyResult; readonly tunnel: LatencyResult };
  readonly rps?: { readonly direct: RpsResult; readonly tunnel: RpsResult };
  /** CPU microseconds per keep-alive request of the req/s figure, by process (as cpuPerGb for bulk). */
  readonly rpsCpuUs?: {
    readonly direct: { readonly client: number; readonly upstream: number; readonly total: number };
    readonly tunnel: { readonly client: number; readonly proxy: number; readonly agent: number; readonly upstream: number; readonly total: number };
  };
}

export async function runTransferPhase(env: BenchEnv, options: TransferOptions): Promise<TransferRun[]> {
  const [cluster] = await env.clusters('bench', 1);
  const [proxyPort] = await env.ports(1);
  const clustersFile = await env.writeClusters('clusters-transfer.json', [cluster!]);
  const proxy = await env.startProxy({ port: proxyPort!, clustersFile, inspect: true, logName: 'proxy-transfer' });
  const agent = env.startAgent({ proxyPort: proxyPort!, cluster: cluster!, logName: 'agent-transfer' });
  try {
    await waitTunnel(env, cluster!, 30_000);
    options.log(`tunnel up: proxy pid ${proxy.child.pid}, agent pid ${agent.pid}`);
    const paths = targets(env, cluster!);
    const eld = new EldProbe(proxy.port, proxy.inspector);
    const runs: TransferRun[] = [];
    for (let run = 1; run <= options.runs; run++) {
      const result: { -readonly [K in keyof TransferRun]: TransferRun[K] } = {};
      if (options.bulk) {
        result.bulkKube = await bulk(env, proxy, agent.pid, paths.kube, options.bulkBytes, async (during) => {
          await eld.start();
          await during();
          result.eldBulk = await eld.read();
        });
        result.bulkKs = await bulk(env, proxy, agent.pid, paths.ks, options.bulkBytes);
        options.log(
          `run ${run} bulk: kube ${result.bulkKube.tunnel.mbPerSecond.toFixed(0)} MB/s (direct ${result.bulkKube.direct.mbPerSecond.toFixed(0)}),` +
            ` ks ${result.bulkKs.tunnel.mbPerSecond.toFixed(0)} MB/s (direct ${result.bulkKs.direct.mbPerSecond.toFixed(0)})`,
        );
      }
      if (options.small) {
        const latency = (target: LoadTarget, reuse: Reuse = 'nothing') =>
          runLoad<LatencyResult>(env.children, { kind: 'latency', target: version(target), count: options.latencyCount, warmup: 20, reuse, timeoutMs: 120_000 });
        const rps = (target: LoadTarget) =>
          runLoad<RpsResult>(env.children, {
            kind: 'rps',
            target: version(target),
            concurrency: options.rpsConcurrency,
            durationMs: options.rpsDurationMs,
            warmupMs: Math.min(1_000, options.rpsDurationMs / 2),
            timeoutMs: options.rpsDurationMs + 30_000,
          });
        result.latency = { direct: await latency(paths.kube.direct), tunnel: await latency(paths.kube.tunnel) };
        result.latencyCert = { direct: await latency(paths.kube.directCert) };
        result.latencyResumed = { direct: await latency(paths.kube.directCert, 'tls-session'), tunnel: await latency(paths.kube.tunnel, 'tls-session') };
        result.latencyKs = { direct: await latency(paths.ks.direct), tunnel: await latency(paths.ks.tunnel) };
        const direct = await withCpu([], () => rps(paths.kube.direct));
        const tunnel = await withCpu([proxy.child.pid, agent.pid], () => rps(paths.kube.tunnel));
        result.rps = { direct: direct.result, tunnel: tunnel.result };
        // CPU seconds per million requests: microseconds per request.
        const millions = (of: RpsResult) => of.allRequests / 1e6;
        result.rpsCpuUs = {
          direct: directPart(cpuPer(direct, direct.result.cpuSeconds, millions(direct.result))),
          tunnel: cpuPer(tunnel, tunnel.result.cpuSeconds, millions(tunnel.result)),
        };
        options.log(
          `run ${run} small: p50 ${result.latency.tunnel.p50Ms.toFixed(2)} ms (direct ${result.latency.direct.p50Ms.toFixed(2)}),` +
            ` p99 ${result.latency.tunnel.p99Ms.toFixed(2)} ms (direct ${result.latency.direct.p99Ms.toFixed(2)}),` +
            ` ${result.rps.tunnel.rps.toFixed(0)} req/s (direct ${result.rps.direct.rps.toFixed(0)}),` +
            ` CPU µs per request: proxy ${result.rpsCpuUs.tunnel.proxy.toFixed(0)}, agent ${result.rpsCpuUs.tunnel.agent.toFixed(0)},` +
            ` all ${result.rpsCpuUs.tunnel.total.toFixed(0)} (direct ${result.rpsCpuUs.direct.total.toFixed(0)});` +
            ` ks p50 ${result.latencyKs.tunnel.p50Ms.toFixed(2)} ms (direct ${result.latencyKs.direct.p50Ms.toFixed(2)});` +
            ` direct with a client certificate p50 ${result.latencyCert.direct.p50Ms.toFixed(2)} ms;` +
            ` TLS session resumed p50 ${result.latencyResumed.tunnel.p50Ms.toFixed(2)} ms (direct ${result.latencyResumed.direct.p50Ms.toFixed(2)}),` +
            ` resumed ${result.latencyResumed.tunnel.resumed}/${result.latencyResumed.tunnel.count} (direct ${result.latencyResumed.direct.resumed}/${result.latencyResumed.direct.count})`,
        );
      }
      runs.push(result);
    }
    return runs;
  } finally {
    await agent.stop();
    await proxy.child.stop();
  }
}

async function bulk(
  env: BenchEnv,
  proxy: ProxyChild,
  agentPid: number,
  path: PathPair,
  bytes: number,
  around: (during: () => Promise<void>) => Promise<void> = (during) => during(),
): Promise<BulkRun> {
  const job = (target: LoadTarget) => ({ kind: 'bulk' as const, target: { ...target, url: `${target.url}/bytes?n=${bytes}` }, timeoutMs: 120_000 });
  const measuredDirect = await withCpu([], () => runLoad<BulkResult>(env.children, job(path.direct)));
  let tunnel: BulkResult | undefined;
  const measuredTunnel = await withCpu([proxy.child.pid, agentPid], () =>
    around(async () => {
      tunnel = await runLoad<BulkResult>(env.children, job(path.tunnel));
    }),
  );
  const direct = measuredDirect.result;
  const gb = tunnel!.bytes / 1e9;
  const tunnelCpu = cpuPer(measuredTunnel, tunnel!.cpuSeconds, gb);
  return {
    direct,
    tunnel: tunnel!,
    proxyCpuPerGb: tunnelCpu.proxy,
    cpuPerGb: { direct: directPart(cpuPer(measuredDirect, direct.cpuSeconds, direct.bytes / 1e9)), tunnel: tunnelCpu },
  };
}

interface CpuMeasured {
  readonly pidSeconds: readonly number[];
  readonly selfSeconds: number;
}

interface CpuSplit {
  readonly client: number;
  readonly proxy: number;
  readonly agent: number;
  readonly upstream: number;
  readonly total: number;
}

/**
 * CPU seconds per unit of work by process: the load client's own, the proxy's and the
 * agent's (`withCpu`'s pids, in that order; none directly) and the upstreams' (this process).
 */
function cpuPer(measured: CpuMeasured, clientSeconds: number, units: number): CpuSplit {
  const [proxy = 0, agent = 0] = measured.pidSeconds;
  const upstream = measured.selfSeconds;
  return { client: clientSeconds / units, proxy: proxy / units, agent: agent / units, upstream: upstream / units, total: (clientSeconds + proxy + agent + upstream) / units };
}

/** The direct path's split: no proxy, no agent. */
function directPart({ client, upstream, total }: CpuSplit) {
  return { client, upstream, total };
}

/**
 * CPU seconds used while `run` ran: by each of `pids` (from /proc) and by this process,
 * where the upstream servers run (so its CPU during a load is theirs).
 */
async function withCpu<T>(pids: readonly (number | undefined)[], run: () => Promise<T>): Promise<{ result: T; pidSeconds: number[]; selfSeconds: number }> {
  const before = pids.map((pid) => (pid === undefined ? 0 : cpuSeconds(pid)));
  const since = process.cpuUsage();
  const result = await run();
  const used = process.cpuUsage(since);
  const after = pids.map((pid) => (pid === undefined ? 0 : cpuSeconds(pid)));
  return { result, pidSeconds: after.map((seconds, i) => seconds - before[i]!), selfSeconds: (used.user + used.system) / 1e6 };
}

const version = (target: LoadTarget): LoadTarget => ({ ...target, url: `${target.url}/version` });
