/**
 * WAN phase (issue 11): one bulk GET on the kube path across a long path, simulated by
 * the delaying relay (bench-relay.ts) at each RTT. Through the tunnel the relay sits
 * between the agent and the proxy (the client is near the proxy, the member far away);
 * directly it sits between the client and the member. Same relay code, same upstream,
 * direct and tunnel interleaved within each run.
 */
import type { BenchEnv } from './bench-env.js';
import type { BulkResult, LoadTarget } from './bench-load-jobs.js';
import { runLoad } from './bench-load-run.js';
import type { RelayStats } from './bench-relay.js';
import { RELAY_CAP_BYTES, startRelayChild, type RelayChild } from './bench-relay-run.js';
import { figure, type Figure } from './bench-report.js';
import { startTunnel } from './bench-tunnel.js';

export interface WanRun {
  readonly rttMs: number;
  readonly direct: BulkResult;
  readonly tunnel: BulkResult;
}

export interface WanResult {
  readonly runs: WanRun[];
  /** What each relay moved and held at most (a hold near the cap means the relay limited). */
  readonly relays: Array<{ readonly rttMs: number; readonly path: 'direct' | 'tunnel'; readonly stats: RelayStats | undefined }>;
  readonly capBytes: number;
}

export interface WanOptions {
  readonly rttsMs: readonly number[];
  readonly bytes: number;
  readonly runs: number;
  readonly log: (line: string) => void;
}

export async function runWanPhase(env: BenchEnv, options: WanOptions): Promise<WanResult> {
  const result: WanResult = { runs: [], relays: [], capBytes: RELAY_CAP_BYTES };
  for (const rttMs of options.rttsMs) {
    const directRelay = await startRelayChild(env, `relay-direct-${rttMs}`, env.upstream.kubePort, rttMs);
    let agentRelay: RelayChild | undefined;
    try {
      const tunnel = await startTunnel(env, {
        name: `wan-${rttMs}`,
        agentDial: async (proxyPort) => {
          agentRelay = await startRelayChild(env, `relay-agent-${rttMs}`, proxyPort, rttMs);
          return agentRelay.port;
        },
      });
      try {
        const direct: LoadTarget = { ...tunnel.paths.kube.direct, url: tunnel.paths.kube.direct.url.replace(/:\d+$/, `:${directRelay.port}`) };
        const get = (target: LoadTarget) =>
          runLoad<BulkResult>(env.children, { kind: 'bulk', target: { ...target, url: `${target.url}/bytes?n=${options.bytes}` }, timeoutMs: 900_000 });
        for (let run = 1; run <= options.runs; run++) {
          const d = await get(direct);
          const t = await get(tunnel.paths.kube.tunnel);
          result.runs.push({ rttMs, direct: d, tunnel: t });
          options.log(`wan ${rttMs} ms RTT run ${run}: tunnel ${t.mbPerSecond.toFixed(1)} MB/s, direct ${d.mbPerSecond.toFixed(1)} MB/s (same relay)`);
        }
      } finally {
        await tunnel.stop();
      }
    } finally {
      result.relays.push({ rttMs, path: 'direct', stats: await directRelay.stop() });
      if (agentRelay) result.relays.push({ rttMs, path: 'tunnel', stats: await agentRelay.stop() });
    }
  }
  return result;
}

export function wanFigures(result: WanResult | undefined, bytes: number): Figure[] {
  if (!result) return [];
  const mib = Math.round(bytes / 1024 / 1024);
  const rtts = [...new Set(result.runs.map((r) => r.rttMs))];
  return rtts.flatMap((rtt) => {
    const runs = result.runs.filter((r) => r.rttMs === rtt);
    const limited = result.relays.some((r) => r.rttMs === rtt && (r.stats?.capPauses ?? 0) > 0);
    return [
      figure({
        key: `wan.${rtt}.mbPerSecond`,
        label: `one ${mib} MiB GET body, kube path, ${rtt} ms RTT (relay)`,
        unit: 'MB/s',
        runs: runs.map((r) => r.tunnel.bodyMbPerSecond),
        direct: runs.map((r) => r.direct.bodyMbPerSecond),
        note: `body bytes ÷ time from the response headers to the last byte${limited ? '; the relay reached its buffer cap: it limited this figure' : ''}`,
      }),
      figure({
        key: `wan.${rtt}.headersMs`,
        label: `one GET at ${rtt} ms RTT: request → response headers`,
        unit: 'ms',
        runs: runs.map((r) => r.tunnel.headersSeconds * 1000),
        direct: runs.map((r) => r.direct.headersSeconds * 1000),
      }),
    ];
  });
}
