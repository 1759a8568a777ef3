/**
 * Sessions phase: N simulated agents, each its own cluster (so each has its two
 * listeners and serving certificate), connect to a fresh real proxy all at once.
 * - handshakes/s: N ÷ time until all N have had their `config` accepted;
 * - RSS per idle agent: (proxy RSS with N idle agents − RSS before them) ÷ N, each read
 *   after the proxy went idle and a forced GC. A few warm-up agents (their own clusters)
 *   connect at once first, so the PKI worker threads, JIT and first-use allocations are
 *   in the baseline, not spread over the agents measured.
 * - HA: the same with N agents of one cluster (one set of listeners and one certificate),
 *   so handshakes/s measures sessions alone, without a new cluster's setup per agent.
 * The V8 heap in use (after GC) per agent is reported beside RSS: RSS also holds memory
 * V8 and the allocator keep after a peak, the heap only what the sessions hold. GC and
 * readings go through the bench probe (no inspector attached, which costs memory itself).
 */
import { startSimAgents, type SimAgents } from '../sim/index.js';
import type { BenchCluster, BenchEnv, ProxyChild } from './bench-env.js';
import { HOST } from './bench-env.js';
import { settledMemory, type MemoryReading } from './bench-memory.js';

export interface SessionsRun {
  readonly agents: number;
  readonly connectSeconds: number;
  readonly handshakesPerSecond: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  readonly rssPerAgentBytes: number;
  readonly heapPerAgentBytes: number;
  /** The two readings (idle RSS, then after GC with V8 heap, external, threads, handles). */
  readonly before: MemoryReading;
  readonly after: MemoryReading;
}

/** Warm-up agents connected before the baseline reading. */
const WARM_UP = 20;

export interface SessionsOptions {
  readonly sizes: readonly number[];
  readonly runs: number;
  readonly maxConnecting: number;
  readonly log: (line: string) => void;
}

export interface SessionsPhaseResult {
  /** By agent count: each agent its own cluster. */
  readonly perCluster: Record<number, SessionsRun[]>;
  /** The largest agent count, all agents of one cluster. */
  readonly ha: SessionsRun[];
}

export async function runSessionsPhase(env: BenchEnv, options: SessionsOptions): Promise<SessionsPhaseResult> {
  const out: Record<number, SessionsRun[]> = {};
  const ha: SessionsRun[] = [];
  for (const n of options.sizes) {
    const clusters = await env.clusters(`s${n}`, n + WARM_UP);
    const [proxyPort] = await env.ports(1);
    const clustersFile = await env.writeClusters(`clusters-sessions-${n}.json`, clusters);
    out[n] = [];
    for (let run = 1; run <= options.runs; run++) {
      const proxy = await env.startProxy({ port: proxyPort!, clustersFile, logName: `proxy-sessions-${n}-${run}` });
      try {
        const result = await measure(env, proxy, clusters.slice(0, WARM_UP), clusters.slice(WARM_UP), 1, options.maxConnecting);
        out[n].push(result);
        options.log(
          `sessions ${n} run ${run}: ${result.handshakesPerSecond.toFixed(0)} handshakes/s,` +
            ` ${(result.rssPerAgentBytes / 1024).toFixed(1)} KB RSS per idle agent`,
        );
      } finally {
        await proxy.child.stop();
      }
    }
  }
  const n = Math.max(...options.sizes);
  const [cluster] = await env.clusters('ha', 1);
  const [proxyPort] = await env.ports(1);
  const clustersFile = await env.writeClusters('clusters-ha.json', [cluster!]);
  for (let run = 1; run <= options.runs; run++) {
    const proxy = await env.startProxy({ port: proxyPort!, clustersFile, logName: `proxy-ha-${run}` });
    try {
      const result = await measure(env, proxy, [cluster!], [cluster!], n, options.maxConnecting);
      ha.push(result);
      options.log(
        `HA ${n} agents of one cluster run ${run}: ${result.handshakesPerSecond.toFixed(0)} handshakes/s,` +
          ` ${(result.rssPerAgentBytes / 1024).toFixed(1)} KB RSS per idle agent`,
      );
    } finally {
      await proxy.child.stop();
    }
  }
  return { perCluster: out, ha };
}

/** Connect `warmUp` (one agent each), read memory, connect `measured` × perCluster at once, read again. */
async function measure(
  env: BenchEnv,
  proxy: ProxyChild,
  warmUp: readonly BenchCluster[],
  measured: readonly BenchCluster[],
  perCluster: number,
  maxConnecting: number,
): Promise<SessionsRun> {
  const pid = proxy.child.pid;
  const warm = simFleet(env, proxy.port, warmUp, maxConnecting);
  let sims: SimAgents | undefined;
  try {
    await warm.waitConnected(warmUp.length, 60_000);
    const before = await settledMemory(pid, proxy.probe, env.settleMs);
    const agents = measured.length * perCluster;
    sims = simFleet(env, proxy.port, measured, maxConnecting, perCluster);
    const connectMs = await sims.waitConnected(agents, 180_000);
    const after = await settledMemory(pid, proxy.probe, env.settleMs);
    return {
      agents,
      connectSeconds: connectMs / 1000,
      handshakesPerSecond: agents / (connectMs / 1000),
      rssBeforeBytes: before.afterGc.rss,
      rssAfterBytes: after.afterGc.rss,
      rssPerAgentBytes: (after.afterGc.rss - before.afterGc.rss) / agents,
      heapPerAgentBytes: (after.afterGc.heapUsed - before.afterGc.heapUsed) / agents,
      before,
      after,
    };
  } finally {
    await sims?.close();
    await warm.close();
  }
}

export function simFleet(env: BenchEnv, proxyPort: number, clusters: readonly BenchCluster[], maxConnecting: number, perCluster = 1): SimAgents {
  return startSimAgents({
    proxyUrl: `ws://${HOST}:${proxyPort}`,
    clusters,
    perCluster,
    upstream: { kubernetes: `${HOST}:${env.upstream.kubePort}`, kubesphere: `${HOST}:${env.upstream.ksPort}` },
    credentials: { caData: env.upstream.memberCa.certPem, bearerToken: env.upstream.bearerToken },
    maxConnecting,
  });
}
