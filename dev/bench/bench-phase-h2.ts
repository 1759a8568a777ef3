/**
 * h2 phase (issue 15): the kube listener with HTTP/2. The member here is the upstream's
 * HTTP/2-capable port (ALPN h2, http/1.1), as a real kube-apiserver; direct figures go to
 * it. Per run:
 * - which protocol the kube listener (and the member) choose when offered h2 and http/1.1;
 * - req/s of 1 KiB GETs with N concurrent streams on one HTTP/2 connection, and with N
 *   HTTP/1.1 keep-alive connections, through the tunnel and directly (the HTTP/2 one
 *   through the tunnel only when the listener negotiates h2 — reported, not failed);
 * - what one client holding W watches costs, on a fresh tunnel (so no pooled connection of
 *   the req/s runs is reused): connections accepted by the kube listener, growth of the
 *   sockets the proxy holds, tunnel channels open (`tower_proxy_channels_open`) and
 *   connections at the member while the watches run (the readings before them are kept:
 *   the tunnel's first /version leaves one pooled channel); directly, the connections the
 *   same client opens at the member.
 */
import { connect as tlsConnect } from 'node:tls';
import type { BenchEnv } from './bench-env.js';
import { HOST } from './bench-env.js';
import type { H2RpsResult, WatchesResult } from './bench-load-h2.js';
import type { LoadTarget, RpsResult } from './bench-load-jobs.js';
import { runLoad, startHeld } from './bench-load-run.js';
import { metricSum, scrapeMetrics } from './bench-metrics.js';
import { establishedOnPort, rssBytes, socketCount, waitIdle } from './bench-proc.js';
import { figure, type Figure } from './bench-report.js';
import { startTunnel, type Tunnel } from './bench-tunnel.js';

export interface WatchCounts {
  /** Connections accepted by the cluster's kube listener. */
  readonly listenerConnections: number;
  /** Sockets the proxy process holds. */
  readonly proxySockets: number;
  readonly channelsOpen: number | null;
  /** Connections open at the member apiserver. */
  readonly memberConnections: number;
  readonly proxyRss: number;
}

export interface WatchCost {
  readonly protocol: 'h1' | 'h2';
  readonly before: WatchCounts;
  readonly during: WatchCounts;
  readonly result: WatchesResult;
  /** The same client straight to the member (it negotiates h2). */
  readonly direct: { readonly protocol: 'h1' | 'h2'; readonly memberBefore: number; readonly memberDuring: number; readonly result: WatchesResult };
}

export interface H2Run {
  /** ALPN answer when offered h2 and http/1.1 (false: none). */
  readonly alpn: { readonly tunnel: string | false; readonly direct: string | false };
  readonly h1: { readonly tunnel: RpsResult; readonly direct: RpsResult };
  readonly h2: { readonly tunnel: H2RpsResult | null; readonly direct: H2RpsResult };
  /** Why the tunnel's HTTP/2 figure is missing. */
  readonly h2TunnelSkipped?: string;
  readonly watches: WatchCost;
}

export interface H2Options {
  readonly runs: number;
  readonly streams: number;
  readonly durationMs: number;
  readonly watches: number;
  readonly log: (line: string) => void;
}

export async function runH2Phase(env: BenchEnv, options: H2Options): Promise<H2Run[]> {
  const kubeconfig = await env.writeMemberKubeconfig('member-h2.kubeconfig', env.upstream.kubeH2Port);
  const direct: LoadTarget = { url: `https://${HOST}:${env.upstream.kubeH2Port}`, ca: env.upstream.memberCa.certPem, headers: { authorization: `Bearer ${env.upstream.bearerToken}` } };
  const version = (t: LoadTarget): LoadTarget => ({ ...t, url: `${t.url}/version` });
  const warmupMs = Math.min(1_000, options.durationMs / 2);
  const h1 = (t: LoadTarget) =>
    runLoad<RpsResult>(env.children, { kind: 'rps', target: version(t), concurrency: options.streams, durationMs: options.durationMs, warmupMs, timeoutMs: options.durationMs + 30_000 });
  const h2 = (t: LoadTarget) =>
    runLoad<H2RpsResult>(env.children, { kind: 'h2rps', target: version(t), streams: options.streams, durationMs: options.durationMs, warmupMs, timeoutMs: options.durationMs + 30_000 });
  const runs: H2Run[] = [];
  for (let run = 1; run <= options.runs; run++) {
    // A tunnel per run, stopped before the watches, so the member counts only theirs.
    const tunnel = await startTunnel(env, { name: `h2-${run}`, kubeconfig });
    let rates: Omit<H2Run, 'watches'>;
    try {
      const through = tunnel.paths.kube.tunnel;
      const alpn = { tunnel: await alpnOf(through), direct: await alpnOf(direct) };
      const h1Direct = await h1(direct);
      const h1Tunnel = await h1(through);
      const h2Direct = await h2(direct);
      const h2Tunnel = alpn.tunnel === 'h2' ? await h2(through) : null;
      rates = {
        alpn,
        h1: { tunnel: h1Tunnel, direct: h1Direct },
        h2: { tunnel: h2Tunnel, direct: h2Direct },
        ...(h2Tunnel ? {} : { h2TunnelSkipped: `the kube listener did not negotiate h2 (ALPN answer: ${alpn.tunnel || 'none'})` }),
      };
    } finally {
      await tunnel.stop();
    }
    const watches = await watchCost(env, kubeconfig, run, direct, options.watches, rates.alpn.tunnel === 'h2' ? 'h2' : 'h1');
    const result: H2Run = { ...rates, watches };
    runs.push(result);
    const { alpn, h1: r1, h2: r2 } = result;
    const d = watches.during;
    options.log(
      `h2 run ${run}: ALPN tunnel ${alpn.tunnel || 'none'}, direct ${alpn.direct || 'none'};` +
        ` ${options.streams} h1 conns ${r1.tunnel.rps.toFixed(0)} req/s (direct ${r1.direct.rps.toFixed(0)}),` +
        ` ${options.streams} h2 streams ${r2.tunnel ? r2.tunnel.rps.toFixed(0) : 'n/a'} req/s (direct ${r2.direct.rps.toFixed(0)});` +
        ` ${options.watches} watches (${watches.protocol}): ${d.listenerConnections} client conns,` +
        ` +${d.proxySockets - watches.before.proxySockets} proxy sockets, ${d.channelsOpen ?? 'n/a'} channels,` +
        ` ${d.memberConnections} member conns (direct ${watches.direct.memberDuring - watches.direct.memberBefore})`,
    );
  }
  return runs;
}

/** The protocol a TLS server picks when offered h2 and http/1.1. */
function alpnOf(target: LoadTarget): Promise<string | false> {
  const url = new URL(target.url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: url.hostname,
      port: Number(url.port),
      ALPNProtocols: ['h2', 'http/1.1'],
      ...(target.ca ? { ca: target.ca } : {}),
      ...(target.cert ? { cert: target.cert } : {}),
      ...(target.key ? { key: target.key } : {}),
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`ALPN probe of ${url.host}: no answer`)));
    socket.once('secureConnect', () => {
      const protocol = socket.alpnProtocol ?? false;
      socket.destroy();
      resolve(protocol);
    });
    socket.once('error', reject);
  });
}

async function counts(env: BenchEnv, tunnel: Tunnel): Promise<WatchCounts> {
  const pid = tunnel.proxy.child.pid;
  const text = await scrapeMetrics(tunnel.proxy.port);
  return {
    listenerConnections: establishedOnPort(tunnel.cluster.kubePort),
    proxySockets: socketCount(pid),
    channelsOpen: text ? (metricSum(text, 'tower_proxy_channels_open') ?? null) : null,
    memberConnections: env.upstream.openConnections().kubeH2,
    proxyRss: rssBytes(pid),
  };
}

async function watchCost(env: BenchEnv, kubeconfig: string, run: number, direct: LoadTarget, n: number, protocol: 'h1' | 'h2'): Promise<WatchCost> {
  const watch = (t: LoadTarget, p: 'h1' | 'h2') => startHeld<WatchesResult>(env.children, { kind: 'watches', target: { ...t, url: `${t.url}/watch` }, count: n, protocol: p, timeoutMs: 30_000 });
  const tunnel = await startTunnel(env, { name: `h2-watches-${run}`, kubeconfig });
  let before: WatchCounts;
  let during: WatchCounts;
  let result: WatchesResult;
  try {
    await waitIdle(tunnel.proxy.child.pid, { timeoutMs: 10_000 });
    before = await counts(env, tunnel);
    const held = watch(tunnel.paths.kube.tunnel, protocol);
    try {
      await held.ready;
      await waitIdle(tunnel.proxy.child.pid, { timeoutMs: 10_000 });
      during = await counts(env, tunnel);
    } finally {
      result = await held.stop();
    }
  } finally {
    await tunnel.stop();
  }
  const memberBefore = await steadyMemberConnections(env);
  const straight = watch(direct, 'h2');
  let memberDuring: number;
  let directResult: WatchesResult;
  try {
    await straight.ready;
    memberDuring = env.upstream.openConnections().kubeH2;
  } finally {
    directResult = await straight.stop();
  }
  return { protocol, before, during, result, direct: { protocol: 'h2', memberBefore, memberDuring, result: directResult } };
}

/** The member's connection count once it stopped changing (closes from earlier runs settle). */
async function steadyMemberConnections(env: BenchEnv): Promise<number> {
  let last = env.upstream.openConnections().kubeH2;
  for (let same = 0, tries = 0; same < 3 && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = env.upstream.openConnections().kubeH2;
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

export function h2Figures(runs: readonly H2Run[] | undefined, streams: number, watches: number): Figure[] {
  if (!runs?.length) return [];
  const skipped = runs.find((r) => r.h2TunnelSkipped)?.h2TunnelSkipped;
  const grow = (pick: (c: WatchCounts) => number | null) => runs.map((r) => {
    const a = pick(r.watches.before);
    const b = pick(r.watches.during);
    return a === null || b === null ? null : b - a;
  });
  const protocol = runs[0]!.watches.protocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1';
  const who = `a client with ${watches} watches (${protocol})`;
  return [
    figure({ key: 'h2.negotiated', label: 'kube listener negotiates h2 (1 yes, 0 no; direct = member)', unit: 'bool', runs: runs.map((r) => (r.alpn.tunnel === 'h2' ? 1 : 0)), direct: runs.map((r) => (r.alpn.direct === 'h2' ? 1 : 0)) }),
    figure({
      key: 'h2.rps',
      label: `1 KiB GET, ${streams} streams on 1 HTTP/2 conn, kube`,
      unit: 'req/s',
      runs: runs.map((r) => r.h2.tunnel?.rps),
      direct: runs.map((r) => r.h2.direct.rps),
      ...(skipped ? { note: skipped } : {}),
    }),
    figure({ key: 'h2.h1rps', label: `1 KiB GET, ${streams} HTTP/1.1 keep-alive conns, kube`, unit: 'req/s', runs: runs.map((r) => r.h1.tunnel.rps), direct: runs.map((r) => r.h1.direct.rps) }),
    figure({
      key: 'watches.clientConnections',
      label: `${who}: connections to the listener`,
      unit: 'conns',
      runs: runs.map((r) => r.watches.during.listenerConnections),
      direct: runs.map((r) => r.watches.direct.memberDuring - r.watches.direct.memberBefore),
      note: 'direct column: connections the same client opens straight to the member (h2)',
    }),
    figure({ key: 'watches.proxySockets', label: `${who}: sockets on the proxy (growth)`, unit: 'sockets', runs: grow((c) => c.proxySockets) }),
    figure({
      key: 'watches.channels',
      label: `${who}: tunnel channels open`,
      unit: 'channels',
      runs: runs.map((r) => r.watches.during.channelsOpen),
      note: `before the watches: ${runs.map((r) => r.watches.before.channelsOpen ?? 'n/a').join(' / ')} (pooled)`,
    }),
    figure({
      key: 'watches.memberConnections',
      label: `${who}: connections at the member`,
      unit: 'conns',
      runs: runs.map((r) => r.watches.during.memberConnections),
      direct: runs.map((r) => r.watches.direct.memberDuring - r.watches.direct.memberBefore),
      note: `before the watches: ${runs.map((r) => r.watches.before.memberConnections).join(' / ')} (pooled)`,
    }),
    figure({ key: 'watches.proxyRssKb', label: `${who}: proxy RSS growth (no GC)`, unit: 'KB', runs: grow((c) => c.proxyRss / 1024) }),
  ];
}
