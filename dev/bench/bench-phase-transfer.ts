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
        result.rps = { direct: await rps(paths.kube.direct), tunnel: await rps(paths.kube.tunnel) };
        options.log(
          `run ${run} small: p50 ${result.latency.tunnel.p50Ms.toFixed(2)} ms (direct ${result.latency.direct.p50Ms.toFixed(2)}),` +
            ` p99 ${result.latency.tunnel.p99Ms.toFixed(2)} ms (direct ${result.latency.direct.p99Ms.toFixed(2)}),` +
            ` ${result.rps.tunnel.rps.toFixed(0)} req/s (direct ${result.rps.direct.rps.toFixed(0)});` +
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
  // The upstream servers run in this process: its CPU during a transfer is theirs.
  const selfCpu = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1e6;
  };
  let since = process.cpuUsage();
  const direct = await runLoad<BulkResult>(env.children, job(path.direct));
  const directUpstream = selfCpu(since);
  let tunnel: BulkResult | undefined;
  const proxyBefore = cpuSeconds(proxy.child.pid);
  const agentBefore = cpuSeconds(agentPid);
  since = process.cpuUsage();
  await around(async () => {
    tunnel = await runLoad<BulkResult>(env.children, job(path.tunnel));
  });
  const tunnelUpstream = selfCpu(since);
  const proxyCpu = cpuSeconds(proxy.child.pid) - proxyBefore;
  const agentCpu = cpuSeconds(agentPid) - agentBefore;
  const gbDirect = direct.bytes / 1e9;
  const gb = tunnel!.bytes / 1e9;
  return {
    direct,
    tunnel: tunnel!,
    proxyCpuPerGb: proxyCpu / gb,
    cpuPerGb: {
      direct: { client: direct.cpuSeconds / gbDirect, upstream: directUpstream / gbDirect, total: (direct.cpuSeconds + directUpstream) / gbDirect },
      tunnel: {
        client: tunnel!.cpuSeconds / gb,
        proxy: proxyCpu / gb,
        agent: agentCpu / gb,
        upstream: tunnelUpstream / gb,
        total: (tunnel!.cpuSeconds + proxyCpu + agentCpu + tunnelUpstream) / gb,
      },
    },
  };
}

const version = (target: LoadTarget): LoadTarget => ({ ...target, url: `${target.url}/version` });
