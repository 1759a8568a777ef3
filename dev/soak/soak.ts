/**
 * `npm run soak`: many simulated agents against a real proxy, a steady request mix, and
 * with `--faults` killed sockets, stalled agents, bad inputs and proxy restarts; then
 * everything stops and the run checks that nothing was left behind (issue 5).
 *
 *   node dist/dev/soak/soak.js --agents N --duration S [--faults] [--json] [--proxy-process]
 *   node dist/dev/soak/soak.js --hostile [--attacks a,b] …   (soak-hostile.ts)
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createSelfSignedCa, importCa, issueClientCert } from '../../src/pki/index.js';
import { startSimAgents, type SimAgents } from '../sim/index.js';
import type { ProbeContext } from './soak-bad-inputs.js';
import { FaultInjector } from './soak-faults.js';
import { runHostileSoak } from './soak-hostile.js';
import { checkInvariants } from './soak-invariants.js';
import { SoakLoad } from './soak-load.js';
import { parseSoakOptions, seededRandom, USAGE, type SoakOptions } from './soak-options.js';
import { freePorts } from './soak-ports.js';
import { childProxy } from './soak-proxy-process.js';
import { inProcessProxy, type SoakCluster, type SoakProxy, type SoakProxyState, type StopCheck } from './soak-proxy.js';
import { formatSoak, type RssSample, type SoakResult } from './soak-report.js';
import { createRequestContext } from './soak-requests.js';
import { activeResources, settleResources } from './soak-resources.js';
import { startSoakUpstream } from './soak-upstream.js';

/** Proxy limits of the in-process proxy: short, so bad peers are judged within a run. */
const HANDSHAKE_TIMEOUT_MS = 2_000;
const CONFIG_TIMEOUT_MS = 1_500;
/**
 * Reconnect delays of the simulated agents: shorter than the real agent's (1 s … 2 min)
 * so a run sees them come back within seconds, long enough not to hammer a restarting proxy.
 */
const SIM_BACKOFF = { minMs: 250, maxMs: 5_000, factor: 1.4 };
/** As the real agent's: a reconnect storm on a busy proxy may take a while per handshake. */
const SIM_HANDSHAKE_TIMEOUT_MS = 30_000;
const DRAIN_MS = 10_000;

const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => bytes / 1024 / 1024;

async function main(): Promise<number> {
  if (process.argv.includes('--hostile')) {
    try {
      return await runHostileSoak(process.argv.slice(2));
    } catch (error) {
      process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}; see --hostile --help\n`);
      return 2;
    }
  }
  let opts: SoakOptions | 'help';
  try {
    opts = parseSoakOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}; see --help\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const o = opts;
  const connectBoundMs = 30_000 + o.agents * 50;
  // Last resort, part of the baseline: a run that cannot finish says so and exits 1.
  const giveUpMs = o.durationMs + 2 * connectBoundMs + o.requestTimeoutMs + 120_000;
  const watchdog = setTimeout(() => {
    log(`FAILED: the run did not finish within ${Math.round(giveUpMs / 1000)} s; giving up`);
    process.exit(1);
  }, giveUpMs);
  const errors: string[] = [];
  const onError = (what: string) => (error: unknown) => {
    if (errors.length < 20) errors.push(`${what}: ${error instanceof Error ? (error.stack ?? error.message).split('\n').slice(0, 3).join(' ') : String(error)}`);
  };
  process.on('uncaughtException', onError('uncaught exception'));
  process.on('unhandledRejection', onError('unhandled rejection'));
  // Standard streams open their handles on first use: open them before the baseline.
  void process.stdout.writable;
  void process.stderr.writable;
  const resourcesBaseline = activeResources();
  const started = performance.now();
  const random = seededRandom(o.seed);
  const eld = monitorEventLoopDelay({ resolution: 10 });

  // Upstream, proxy CA and client certificate, clusters and their ports.
  const upstream = await startSoakUpstream();
  const proxyCa = await createSelfSignedCa({ commonName: 'tower-soak-proxy-ca' });
  const client = await issueClientCert(await importCa(proxyCa), { commonName: 'soak-admin', organizations: ['system:masters'] });
  const clusterCount = Math.ceil(o.agents / o.perCluster);
  const agents = clusterCount * o.perCluster;
  if (agents !== o.agents) log(`${o.agents} agents do not split into clusters of ${o.perCluster}: running ${agents}`);
  const ports = await freePorts(1 + 2 * (clusterCount + 1), random);
  const token = () => randomBytes(16).toString('hex');
  const clusters: SoakCluster[] = Array.from({ length: clusterCount }, (_, i) => ({ name: `soak-${i}`, token: token(), kubePort: ports[1 + 2 * i]!, ksPort: ports[2 + 2 * i]! }));
  const probeCluster: SoakCluster = { name: 'soak-probe', token: token(), kubePort: ports.at(-2)!, ksPort: ports.at(-1)! };
  const proxyConfig = {
    port: ports[0]!,
    clusters: [...clusters, probeCluster],
    ca: proxyCa,
    keepaliveIntervalMs: o.keepaliveIntervalMs,
    keepaliveCountMax: o.keepaliveCountMax,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    configTimeoutMs: CONFIG_TIMEOUT_MS,
  };
  const proxy: SoakProxy = o.proxyProcess ? await childProxy(proxyConfig) : inProcessProxy(proxyConfig);
  await proxy.start();
  log(`proxy (${proxy.mode}) on 127.0.0.1:${proxy.port}; ${agents} agents of ${clusterCount} clusters; seed ${o.seed}`);

  const upstreamTargets = { kubernetes: `127.0.0.1:${upstream.kubePort}`, kubesphere: `127.0.0.1:${upstream.ksPort}` };
  const sims: SimAgents = startSimAgents({
    proxyUrl: `ws://127.0.0.1:${proxy.port}`,
    clusters: clusters.map((c) => ({ name: c.name, token: c.token })),
    perCluster: o.perCluster,
    upstream: upstreamTargets,
    credentials: { caData: upstream.memberCa.certPem, bearerToken: upstream.bearerToken },
    backoff: SIM_BACKOFF,
    handshakeTimeoutMs: SIM_HANDSHAKE_TIMEOUT_MS,
    dialTimeoutMs: 5_000,
    keepaliveMs: 2_000,
    pingTimeoutMs: 5_000,
    maxConnecting: o.maxConnecting,
  });
  let connectSeconds: number | null = null;
  try {
    connectSeconds = (await sims.waitConnected(agents, connectBoundMs)) / 1000;
    log(`${agents} agents connected in ${connectSeconds.toFixed(2)} s`);
  } catch (error) {
    onError('connect')(error);
  }

  // Load, faults and samples for the duration.
  const ctx = createRequestContext({ ca: proxyCa.certPem, cert: client.certPem, key: client.keyPem }, o.requestTimeoutMs);
  const load = new SoakLoad({ rate: o.rate, concurrency: o.concurrency, clusters, ctx, random });
  const probe: ProbeContext = {
    port: proxy.port,
    limits: proxy.limits,
    servedName: clusters[0]!.name,
    probeCluster,
    upstream: upstreamTargets,
    epoch: () => proxy.epoch,
    up: () => proxy.up,
  };
  const rates = {
    killsPerSecond: o.killsPerSecond,
    stallsPerSecond: o.stallsPerSecond,
    badInputsPerSecond: o.badInputsPerSecond,
    restartEveryMs: o.restartEveryMs,
  };
  const faults = o.faults ? new FaultInjector({ sims, proxy, rates, probe, random, log }) : undefined;
  const rss: RssSample[] = [];
  const loadStarted = performance.now();
  let sampling = false;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    const state = await proxy.state().catch(() => undefined);
    // Under `node --expose-gc`, heap samples are after a full collection: a leak shows as a trend.
    (globalThis as { gc?: () => void }).gc?.();
    const memory = process.memoryUsage();
    rss.push({
      t: (performance.now() - loadStarted) / 1000,
      rssMB: mb(state?.rssBytes ?? memory.rss),
      heapMB: mb(memory.heapUsed),
      agentsConnected: sims.connected(),
      sessions: state?.sessions ?? 0,
      channelsOpen: state?.channelsOpen ?? 0,
      inFlight: load.inFlight,
      liveActors: proxy.actors?.live ?? null,
      stalled: faults?.stalled ?? 0,
    });
    sampling = false;
  };
  const sampleMs = Math.max(1_000, Math.round(o.durationMs / 30));
  const sampler = setInterval(() => void sample(), sampleMs);
  eld.enable();
  load.start();
  faults?.start();
  log(`load ${o.rate} req/s at most, ${o.concurrency} in flight at most, for ${o.durationMs / 1000} s${faults ? ', with faults' : ''}`);
  await sleep(o.durationMs);

  // Wind down: no new requests or faults; every request settles or counts as hung.
  load.stopStarting();
  await faults?.stop();
  await load.waitSettled(o.requestTimeoutMs + 2_000);
  clearInterval(sampler);
  eld.disable();
  await sample();
  if (!proxy.up) await proxy.start().catch(onError('final proxy start'));
  const reconnectStarted = performance.now();
  let reconnectError: string | undefined;
  let reconnectSeconds: number | null = null;
  try {
    await sims.waitConnected(agents, connectBoundMs);
    // …and the proxy serves each of their clusters again (an agent connected to each).
    let connected = 0;
    const served = await waitUntil(async () => {
      connected = (await proxy.state().catch(() => undefined))?.clustersConnected ?? 0;
      return connected >= clusterCount;
    }, DRAIN_MS);
    if (!served) throw new Error(`all ${agents} agents connected, but only ${connected} of ${clusterCount} clusters are served after ${DRAIN_MS / 1000} s`);
    reconnectSeconds = (performance.now() - reconnectStarted) / 1000;
  } catch (error) {
    reconnectError = error instanceof Error ? error.message : String(error);
  }
  const handshakes = await proxy.handshakes().catch((error: unknown) => (onError('handshakes from /metrics')(error), {}));
  const proxyServing = await proxy.state().catch(() => null);
  const simStats = sims.stats();

  // Stop the agents: the proxy must let go of every session, channel and listener.
  await sims.close();
  let proxyBeforeStop: SoakProxyState | null = null;
  const drainError = await waitUntil(async () => {
    proxyBeforeStop = await proxy.state().catch(() => null);
    const s = proxyBeforeStop;
    return s !== null && s.sessions === 0 && s.channelsOpen === 0 && s.clustersConnected === 0 && (s.gatewaySessions ?? 0) === 0;
  }, DRAIN_MS).then((ok) => (ok ? undefined : `after ${DRAIN_MS / 1000} s: ${describe(proxyBeforeStop)}`));
  await waitUntil(async () => upstream.openSockets() === 0, 5_000);
  const upstreamSockets = upstream.openSockets();
  const proxyAfterStop: StopCheck | null = proxy.up ? await proxy.stop() : null;
  const actors = proxy.actors;
  if (actors) await waitUntil(async () => actors.live === 0, 2_000);
  ctx.kubeAgent.destroy();
  ctx.ksAgent.destroy();
  await upstream.close();
  await proxy.close();
  const simsAfter = sims.stats();
  const resourcesDiff = await settleResources(resourcesBaseline, 5_000);
  const resourcesFinal = activeResources();

  for (const problem of proxy.problems()) onError('proxy')(problem);
  const above = (...types: string[]) => types.reduce((n, type) => n + Math.max(0, resourcesDiff[type] ?? 0), 0);
  const leftOver = {
    sessions: proxyAfterStop?.sessions ?? null,
    channels: proxyAfterStop?.channelsOpen ?? null,
    listeners: above('TCPServerWrap'),
    sockets: above('TCPSocketWrap', 'TCPConnectWrap', 'PipeWrap'),
    timers: above('Timeout', 'Immediate'),
    liveActors: actors?.live ?? null,
  };
  const facts = {
    command: `node dist/dev/soak/soak.js ${process.argv.slice(2).join(' ')}`.trim(),
    mode: proxy.mode,
    seed: o.seed,
    agents,
    clusters: clusterCount,
    perCluster: o.perCluster,
    durationSeconds: o.durationMs / 1000,
    faults: o.faults,
    seconds: (performance.now() - started) / 1000,
    connectSeconds,
    requests: load.result(),
    handshakes: { metrics: handshakes, sims: { attempts: simStats.attempts, handshakes: simStats.handshakes, disconnects: simStats.disconnects } },
    faultsInjected: faults?.result() ?? null,
    sessionEnds: actors?.sessionEnds() ?? null,
    reconnectSeconds,
    eventLoopDelayMs: { p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 },
    rss,
    end: {
      leftOver,
      proxyServing,
      proxyBeforeStop,
      proxyAfterStop,
      actors: actors?.counts() ?? null,
      upstreamSockets,
      sims: simsAfter,
      resourcesBaseline,
      resourcesFinal,
      resourcesDiff,
    },
    errors,
    reconnectError,
    drainError,
  };
  const invariants = checkInvariants(facts);
  const { reconnectError: _r, drainError: _d, ...rest } = facts;
  const result: SoakResult = { ...rest, invariants, ok: invariants.every((i) => i.ok) };
  process.stdout.write(`${o.json ? JSON.stringify(result) : formatSoak(result)}\n`);
  if (o.json) for (const inv of invariants.filter((i) => !i.ok)) log(`FAILED invariant ${inv.name}: ${inv.detail}`);
  clearTimeout(watchdog);
  return result.ok ? 0 : 1;
}

function describe(s: SoakProxyState | null): string {
  if (!s) return 'the proxy state could not be read';
  return `${s.sessions} sessions, ${s.channelsOpen} channels, ${s.clustersConnected} clusters connected, ${s.gatewaySessions ?? '?'} gateway sessions still held`;
}

/** Poll `check` every 50 ms until true or `timeoutMs`; resolves with the last answer. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(50);
  }
}

main().then(
  (code) => {
    // Exit explicitly: a leak the report already names must not keep the process alive.
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`soak: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
