/** The result of a soak run: its invariants, its JSON object and its text form. */
import type { ActorCounts } from './soak-actors.js';
import type { FaultResult } from './soak-faults.js';
import type { LoadResult } from './soak-load.js';
import type { SoakProxyState, StopCheck } from './soak-proxy.js';
import type { ResourceCounts } from './soak-resources.js';
import type { SimStatsSnapshot } from '../sim/index.js';

export interface RssSample {
  /** Seconds since the load started. */
  readonly t: number;
  /** RSS of this process (in-process proxy, sims and load) or of the proxy child. */
  readonly rssMB: number;
  readonly heapMB: number;
  readonly agentsConnected: number;
  readonly sessions: number;
  readonly channelsOpen: number;
  readonly inFlight: number;
  readonly liveActors: number | null;
  readonly stalled: number;
}

export interface Invariant {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SoakResult {
  readonly command: string;
  readonly mode: 'in-process' | 'process';
  readonly seed: number;
  readonly agents: number;
  readonly clusters: number;
  readonly perCluster: number;
  readonly durationSeconds: number;
  readonly faults: boolean;
  readonly seconds: number;
  readonly connectSeconds: number | null;
  readonly requests: LoadResult;
  readonly handshakes: {
    /** From the proxy's /metrics, summed over its restarts: verdicts by result. */
    readonly metrics: Readonly<Record<string, number>>;
    readonly sims: { readonly attempts: number; readonly handshakes: number; readonly disconnects: Readonly<Record<string, number>> };
  };
  readonly faultsInjected: FaultResult | null;
  /** Proxy sessions that ended, by reason (in-process). */
  readonly sessionEnds: Readonly<Record<string, number>> | null;
  readonly reconnectSeconds: number | null;
  /** Event-loop delay of this process during the load (in-process: proxy, agents and load share it). */
  readonly eventLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly rss: readonly RssSample[];
  readonly end: {
    /**
     * After everything stopped: sessions and channels the proxy handle still held, and
     * listeners, sockets and timers of this process above the baseline, live actors. All 0.
     */
    readonly leftOver: {
      readonly sessions: number | null;
      readonly channels: number | null;
      readonly listeners: number;
      readonly sockets: number;
      readonly timers: number;
      readonly liveActors: number | null;
    };
    /** The proxy with every agent back, before the agents closed. */
    readonly proxyServing: SoakProxyState | null;
    /** After the agents closed, before the proxy stopped: all zero. */
    readonly proxyBeforeStop: SoakProxyState | null;
    /** Held by the proxy handle after stop(). */
    readonly proxyAfterStop: StopCheck | null;
    readonly actors: ActorCounts | null;
    readonly upstreamSockets: number;
    readonly sims: SimStatsSnapshot;
    readonly resourcesBaseline: ResourceCounts;
    readonly resourcesFinal: ResourceCounts;
    /** final − baseline, non-zero types only. */
    readonly resourcesDiff: ResourceCounts;
  };
  readonly errors: readonly string[];
  readonly invariants: readonly Invariant[];
  readonly ok: boolean;
}

const fmt = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? '–' : n.toFixed(digits));
const pairs = (record: Readonly<Record<string, number>>) =>
  Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

export function formatSoak(r: SoakResult): string {
  const q = r.requests;
  const lines = [
    `tower soak — ${r.agents} agents (${r.clusters} clusters × ${r.perCluster}), ${r.durationSeconds} s, ${r.faults ? 'with faults' : 'no faults'}, proxy ${r.mode}, seed ${r.seed}`,
    `connect     all ${r.agents} agents in ${fmt(r.connectSeconds, 2)} s; after the load all back in ${fmt(r.reconnectSeconds, 2)} s`,
    `requests    ${q.started} started, ${q.ok} ok, ${q.failed} failed, ${q.shed} shed (concurrency cap), ${q.pending} pending at the end`,
    `  failed    ${pairs(q.failedByReason)}`,
    `  latency   small GETs (kube-get, ks-get) p50 ${fmt(q.p50Ms, 2)} ms, p99 ${fmt(q.p99Ms, 2)} ms`,
    ...Object.entries(q.byKind).map(
      ([kind, k]) =>
        `  ${kind.padEnd(12)} ${String(k.ok).padStart(6)}/${String(k.started).padEnd(6)} ok  p50 ${fmt(k.p50Ms, 2).padStart(7)} ms  p99 ${fmt(k.p99Ms, 2).padStart(7)} ms` +
        (Object.keys(k.failed).length ? `  failed: ${pairs(k.failed)}` : ''),
    ),
    `handshakes  /metrics: ${pairs(r.handshakes.metrics)}`,
    `            sims: ${r.handshakes.sims.handshakes} accepted of ${r.handshakes.sims.attempts} attempts; disconnects ${pairs(r.handshakes.sims.disconnects)}`,
  ];
  const f = r.faultsInjected;
  if (f) {
    lines.push(`faults      ${f.kills} kills, ${f.stalls} stalls (${f.cleanStalls} without a restart meanwhile), ${f.restarts} proxy restarts`);
    for (const [kind, results] of Object.entries(f.probes)) lines.push(`  bad input ${kind.padEnd(18)} ${pairs(results)}`);
    for (const note of f.notes) lines.push(`  note      ${note}`);
  }
  if (r.sessionEnds) lines.push(`sessions    ended by reason: ${pairs(r.sessionEnds)}`);
  lines.push(`event loop  delay of this process during the load: p99 ${fmt(r.eventLoopDelayMs.p99)} ms, max ${fmt(r.eventLoopDelayMs.max)} ms`);
  lines.push('rss         t(s)  rss(MB) heap(MB) agents sessions channels inflight actors');
  for (const s of thin(r.rss, 12)) {
    lines.push(
      `            ${fmt(s.t, 0).padStart(4)} ${fmt(s.rssMB, 0).padStart(8)} ${fmt(s.heapMB, 0).padStart(8)} ${String(s.agentsConnected).padStart(6)}` +
        ` ${String(s.sessions).padStart(8)} ${String(s.channelsOpen).padStart(8)} ${String(s.inFlight).padStart(8)} ${String(s.liveActors ?? '–').padStart(6)}`,
    );
  }
  const e = r.end;
  const state = (s: SoakProxyState | null) =>
    s ? `${s.sessions} sessions, ${s.channelsOpen} channels, ${s.clustersConnected} clusters connected${s.gatewaySessions === undefined ? '' : `, ${s.gatewaySessions} gateway sessions`}` : '–';
  const l = e.leftOver;
  lines.push(
    `left over   sessions ${l.sessions ?? '–'}, channels ${l.channels ?? '–'}, listeners ${l.listeners}, sockets ${l.sockets}, timers ${l.timers}, live actors ${l.liveActors ?? '–'}`,
    `end         serving: ${state(e.proxyServing)}`,
    `            agents closed, before stop: ${state(e.proxyBeforeStop)}`,
    `            after stop: ${e.proxyAfterStop ? `${e.proxyAfterStop.sessions} sessions, ${e.proxyAfterStop.gateways} gateways, ${e.proxyAfterStop.channelsOpen} channels${e.proxyAfterStop.exitCode === undefined ? '' : `, exit ${e.proxyAfterStop.exitCode}`}` : '–'}`,
    `            actors: ${e.actors ? `${e.actors.created} created, ${e.actors.ended} ended, ${e.actors.live} live` : '– (not visible in a child process)'}`,
    `            upstream sockets ${e.upstreamSockets}; sims connected ${e.sims.connected}, channels ${e.sims.channelsOpen}`,
    `            resources vs baseline: ${Object.keys(e.resourcesDiff).length ? pairs(e.resourcesDiff) : 'same'} (baseline ${pairs(e.resourcesBaseline)})`,
  );
  for (const error of r.errors) lines.push(`error       ${error}`);
  for (const inv of r.invariants) lines.push(`${inv.ok ? 'ok  ' : 'FAIL'}        ${inv.name}: ${inv.detail}`);
  lines.push(r.ok ? 'soak: all invariants hold' : `soak: FAILED: ${r.invariants.filter((i) => !i.ok).map((i) => i.name).join('; ')}`);
  return lines.join('\n');
}

/** At most `n` samples, evenly spread, always the last. */
function thin<T>(samples: readonly T[], n: number): T[] {
  if (samples.length <= n) return [...samples];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(samples[Math.round((i * (samples.length - 1)) / (n - 1))]!);
  return out;
}
