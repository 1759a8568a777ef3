/**
 * `npm run bench`: the tunnel's figures beside direct access to the same upstream, the Go
 * tower's reference points and our targets (issues 5, 10, 11, 15). Everything runs on
 * 127.0.0.1: upstreams (HTTPS member apiserver, the same with HTTP/2, HTTP ks), the real
 * proxy and agent as child processes (with the memory probe), load generators, delaying
 * relays and simulated-agent fleets in child processes, simulated agents in this one.
 *
 *   node dist/dev/bench/bench.js [--quick] [--only PHASE,…] [--json]   (see --help)
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { createBenchEnv, type BenchEnv } from './bench-env.js';
import { parseBenchOptions, USAGE, type BenchOptions } from './bench-options.js';
import { agentFigures, runAgentPhase, type AgentRun } from './bench-phase-agent.js';
import { fairnessFigures, runFairnessPhase, type FairnessRun } from './bench-phase-fairness.js';
import { h2Figures, runH2Phase, type H2Run } from './bench-phase-h2.js';
import { fleetFigures, runFleetPhase, type FleetRun } from './bench-phase-fleet.js';
import { footprintFigures, runFootprintPhase, type FootprintResult } from './bench-phase-footprint.js';
import { runPkiPhase, type PkiPhaseResult } from './bench-phase-pki.js';
import { runSessionsPhase, type SessionsPhaseResult } from './bench-phase-sessions.js';
import { runStormPhase, type StormRun } from './bench-phase-storm.js';
import { runTransferPhase, type TransferRun } from './bench-phase-transfer.js';
import { runWanPhase, wanFigures, type WanResult } from './bench-phase-wan.js';
import { figure, formatTable, REFERENCE, type Figure } from './bench-report.js';
import { sshCryptoBindingMissing } from '../../src/protocol/ssh-crypto-binding.js';

interface Raw {
  transfer?: TransferRun[];
  sessions?: SessionsPhaseResult;
  storm?: StormRun[];
  pki?: PkiPhaseResult;
  footprint?: FootprintResult;
  agent?: AgentRun[];
  fleet?: FleetRun[];
  wan?: WanResult;
  fairness?: FairnessRun[];
  h2?: H2Run[];
}

async function main(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}; see --help\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const opts = options;
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const started = new Date();
  const loadBefore = loadavg();
  const errors: string[] = [];
  const raw: Raw = {};
  const env = await createBenchEnv({ proxyNodeArgs: opts.proxyNodeArgs, agentNodeArgs: opts.agentNodeArgs, keep: opts.keep, settleMs: opts.settleMs });
  log(`temp dir ${env.dir}`);
  const deadline = setTimeout(() => {
    log(`giving up after ${opts.timeoutMs / 1000} s (--timeout)`);
    void closeEnv(env).finally(() => process.exit(1));
  }, opts.timeoutMs);
  deadline.unref();

  const phase = async (name: string, run: () => Promise<void>) => {
    log(`${name}…`);
    try {
      await run();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      errors.push(`${name}: ${message}`);
      log(`${name} failed: ${message}`);
    }
  };
  try {
    if (opts.only.has('bulk') || opts.only.has('small')) {
      await phase('bulk/small', async () => {
        raw.transfer = await runTransferPhase(env, {
          runs: opts.runs,
          bulkBytes: opts.bulkBytes,
          latencyCount: opts.requests,
          rpsConcurrency: opts.concurrency,
          rpsDurationMs: opts.rpsMs,
          bulk: opts.only.has('bulk'),
          small: opts.only.has('small'),
          log,
        });
      });
    }
    if (opts.only.has('sessions')) {
      await phase('sessions', async () => {
        raw.sessions = await runSessionsPhase(env, { sizes: opts.sizes, runs: opts.runs, maxConnecting: opts.maxConnecting, log });
      });
    }
    if (opts.only.has('storm')) {
      await phase('storm', async () => {
        raw.storm = await runStormPhase(env, { agents: opts.stormAgents, runs: opts.runs, maxConnecting: opts.maxConnecting, timeoutMs: 120_000, log });
      });
    }
    if (opts.only.has('pki')) {
      await phase('pki', async () => {
        raw.pki = await runPkiPhase(env.proxyCa, { count: opts.pkiCount, concurrency: 8, threads: Math.min(2, availableParallelism()) });
      });
    }
    if (opts.only.has('footprint')) {
      await phase('footprint', async () => {
        raw.footprint = await runFootprintPhase(env, { counts: opts.configured, modes: opts.footprintModes, runs: opts.runs, log });
      });
    }
    if (opts.only.has('agent')) {
      await phase('agent', async () => {
        raw.agent = await runAgentPhase(env, { runs: opts.runs, bulkBytes: opts.bulkBytes, log });
      });
    }
    if (opts.only.has('fleet')) {
      await phase('fleet', async () => {
        raw.fleet = await runFleetPhase(env, {
          agents: opts.fleetAgents,
          clusters: opts.fleetClusters,
          procs: opts.fleetProcs,
          runs: opts.runs,
          maxConnecting: opts.maxConnecting,
          log,
        });
      });
    }
    if (opts.only.has('wan')) {
      await phase('wan', async () => {
        raw.wan = await runWanPhase(env, { rttsMs: opts.rttsMs, bytes: opts.wanBytes, runs: opts.runs, log });
      });
    }
    if (opts.only.has('fairness')) {
      await phase('fairness', async () => {
        raw.fairness = await runFairnessPhase(env, { runs: opts.runs, requests: opts.fairnessRequests, log });
      });
    }
    if (opts.only.has('h2')) {
      await phase('h2', async () => {
        raw.h2 = await runH2Phase(env, { runs: opts.runs, streams: opts.concurrency, durationMs: opts.rpsMs, watches: opts.watches, log });
      });
    }
  } finally {
    clearTimeout(deadline);
    await closeEnv(env);
  }

  const figures = compile(raw, opts);
  const meta = {
    command: `node dist/dev/bench/bench.js ${process.argv.slice(2).join(' ')}`.trim(),
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    node: process.version,
    // Without it SSH encrypts in JavaScript: fewer req/s, more CPU per GB (docs/ssh2-patch.md).
    sshCryptoBinding: sshCryptoBindingMissing() === undefined,
    // The children ran with their Deployments' V8 young generation (dev/bench/deployed-heap.ts).
    asDeployed: opts.asDeployed,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadavgBefore: loadBefore.map((v) => Number(v.toFixed(2))),
    loadavgAfter: loadavg().map((v) => Number(v.toFixed(2))),
    runs: opts.runs,
    quick: opts.quick,
    phases: [...opts.only],
    ...(opts.keep ? { dir: env.dir } : {}),
    errors,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ meta, figures: Object.fromEntries(figures.map((f) => [f.key, f])), raw })}\n`);
  } else {
    const header =
      `tower bench — ${meta.cpus} CPUs (${meta.cpuModel}), node ${meta.node}${meta.sshCryptoBinding ? '' : ' (ssh2 without its native binding)'}${meta.asDeployed ? ', heap as deployed' : ''}, load ${meta.loadavgBefore.join(' ')} → ${meta.loadavgAfter.join(' ')},` +
      ` median of ${opts.runs} run(s)${opts.quick ? ', --quick' : ''}`;
    process.stdout.write(`${formatTable(figures, header)}\n`);
    if (errors.length) process.stdout.write(`errors:\n${errors.map((e) => `  ${e}`).join('\n')}\n`);
  }
  return errors.length ? 1 : 0;
}

async function closeEnv(env: BenchEnv): Promise<void> {
  try {
    await env.close();
  } catch (error) {
    process.stderr.write(`bench: cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

function compile(raw: Raw, opts: BenchOptions): Figure[] {
  const figures: Figure[] = [];
  const mib = Math.round(opts.bulkBytes / 1024 / 1024);
  const t = raw.transfer ?? [];
  if (opts.only.has('bulk') && t.length) {
    figures.push(
      figure({ key: 'bulk.kube.mbPerSecond', label: `bulk ${mib} MiB GET, kube HTTPS path`, unit: 'MB/s', runs: t.map((r) => r.bulkKube?.tunnel.mbPerSecond), direct: t.map((r) => r.bulkKube?.direct.mbPerSecond) }),
      figure({ key: 'bulk.ks.mbPerSecond', label: `bulk ${mib} MiB GET, ks HTTP path`, unit: 'MB/s', runs: t.map((r) => r.bulkKs?.tunnel.mbPerSecond), direct: t.map((r) => r.bulkKs?.direct.mbPerSecond) }),
      figure({ key: 'bulk.kube.proxyCpuPerGb', label: 'proxy CPU per GB, kube path', unit: 's/GB', runs: t.map((r) => r.bulkKube?.proxyCpuPerGb) }),
      figure({ key: 'bulk.ks.proxyCpuPerGb', label: 'proxy CPU per GB, ks path', unit: 's/GB', runs: t.map((r) => r.bulkKs?.proxyCpuPerGb) }),
      figure({ key: 'bulk.kube.agentCpuPerGb', label: 'agent CPU per GB, kube path', unit: 's/GB', runs: t.map((r) => r.bulkKube?.cpuPerGb.tunnel.agent) }),
      figure({ key: 'bulk.kube.totalCpuPerGb', label: 'all processes CPU per GB, kube path', unit: 's/GB', runs: t.map((r) => r.bulkKube?.cpuPerGb.tunnel.total), direct: t.map((r) => r.bulkKube?.cpuPerGb.direct.total) }),
      figure({ key: 'bulk.ks.totalCpuPerGb', label: 'all processes CPU per GB, ks path', unit: 's/GB', runs: t.map((r) => r.bulkKs?.cpuPerGb.tunnel.total), direct: t.map((r) => r.bulkKs?.cpuPerGb.direct.total) }),
      figure({ key: 'eld.bulk.p99Ms', label: 'proxy event-loop delay p99, kube bulk', unit: 'ms', runs: t.map((r) => r.eldBulk?.p99Ms) }),
      figure({ key: 'eld.bulk.maxMs', label: 'proxy event-loop delay max, kube bulk', unit: 'ms', runs: t.map((r) => r.eldBulk?.maxMs) }),
    );
  }
  if (opts.only.has('small') && t.length) {
    figures.push(
      figure({ key: 'small.p50Ms', label: '1 KB GET p50, new TLS conn each, kube', unit: 'ms', runs: t.map((r) => r.latency?.tunnel.p50Ms), direct: t.map((r) => r.latency?.direct.p50Ms) }),
      figure({ key: 'small.p99Ms', label: '1 KB GET p99, new TLS conn each, kube', unit: 'ms', runs: t.map((r) => r.latency?.tunnel.p99Ms), direct: t.map((r) => r.latency?.direct.p99Ms) }),
      figure({ key: 'small.cert.p50Ms', label: '1 KB GET p50, new TLS conn, direct w/ client cert', unit: 'ms', runs: t.map((r) => r.latency?.tunnel.p50Ms), direct: t.map((r) => r.latencyCert?.direct.p50Ms) }),
      figure({ key: 'small.cert.p99Ms', label: '1 KB GET p99, new TLS conn, direct w/ client cert', unit: 'ms', runs: t.map((r) => r.latency?.tunnel.p99Ms), direct: t.map((r) => r.latencyCert?.direct.p99Ms) }),
      figure({ key: 'small.resumed.p50Ms', label: '1 KB GET p50, TLS session resumed, kube', unit: 'ms', runs: t.map((r) => r.latencyResumed?.tunnel.p50Ms), direct: t.map((r) => r.latencyResumed?.direct.p50Ms) }),
      figure({ key: 'small.resumed.p99Ms', label: '1 KB GET p99, TLS session resumed, kube', unit: 'ms', runs: t.map((r) => r.latencyResumed?.tunnel.p99Ms), direct: t.map((r) => r.latencyResumed?.direct.p99Ms) }),
      figure({
        key: 'small.resumed.percent',
        label: 'new TLS conns that resumed a session, kube',
        unit: '%',
        runs: t.map((r) => r.latencyResumed && (100 * r.latencyResumed.tunnel.resumed) / r.latencyResumed.tunnel.count),
        direct: t.map((r) => r.latencyResumed && (100 * r.latencyResumed.direct.resumed) / r.latencyResumed.direct.count),
      }),
      figure({ key: 'small.ks.p50Ms', label: '1 KB GET p50, new conn each, ks HTTP', unit: 'ms', runs: t.map((r) => r.latencyKs?.tunnel.p50Ms), direct: t.map((r) => r.latencyKs?.direct.p50Ms) }),
      figure({ key: 'small.ks.p99Ms', label: '1 KB GET p99, new conn each, ks HTTP', unit: 'ms', runs: t.map((r) => r.latencyKs?.tunnel.p99Ms), direct: t.map((r) => r.latencyKs?.direct.p99Ms) }),
      figure({ key: 'small.rps', label: `1 KB GET, ${opts.concurrency} keep-alive clients, kube`, unit: 'req/s', runs: t.map((r) => r.rps?.tunnel.rps), direct: t.map((r) => r.rps?.direct.rps) }),
      figure({ key: 'small.rps.proxyCpuUs', label: 'proxy CPU per keep-alive request, kube', unit: 'µs', runs: t.map((r) => r.rpsCpuUs?.tunnel.proxy) }),
      figure({ key: 'small.rps.agentCpuUs', label: 'agent CPU per keep-alive request, kube', unit: 'µs', runs: t.map((r) => r.rpsCpuUs?.tunnel.agent) }),
      figure({ key: 'small.rps.totalCpuUs', label: 'all processes CPU per keep-alive request', unit: 'µs', runs: t.map((r) => r.rpsCpuUs?.tunnel.total), direct: t.map((r) => r.rpsCpuUs?.direct.total) }),
    );
  }
  for (const [size, runs] of Object.entries(raw.sessions?.perCluster ?? {})) {
    figures.push(
      figure({ key: `sessions.${size}.rssPerAgentKb`, reference: `sessions.${size}.rssPerAgentKb` in REFERENCE ? `sessions.${size}.rssPerAgentKb` : 'sessions.rssPerAgentKb', label: `proxy RSS per idle agent, ${size} agents`, unit: 'KB', runs: runs.map((r) => r.rssPerAgentBytes / 1024) }),
      figure({ key: `sessions.${size}.heapPerAgentKb`, label: `proxy V8 heap per idle agent, ${size} agents`, unit: 'KB', runs: runs.map((r) => r.heapPerAgentBytes / 1024) }),
      figure({
        key: `sessions.${size}.rssIdlePerAgentKb`,
        label: `proxy RSS per idle agent, ${size} agents, no forced GC`,
        unit: 'KB',
        runs: runs.map((r) => (r.after.rssIdle - r.before.rssIdle) / r.agents / 1024),
      }),
      figure({ key: `sessions.${size}.rssMb`, label: `proxy RSS, ${size} agents connected and idle`, unit: 'MB', runs: runs.map((r) => r.after.rssIdle / 1024 / 1024) }),
      figure({ key: `sessions.${size}.handshakesPerSecond`, reference: 'sessions.handshakesPerSecond', label: `handshakes incl. config, ${size} at once`, unit: '/s', runs: runs.map((r) => r.handshakesPerSecond) }),
    );
  }
  const ha = raw.sessions?.ha ?? [];
  if (ha.length) {
    const n = ha[0]!.agents;
    figures.push(
      figure({ key: 'sessions.ha.rssPerAgentKb', reference: 'sessions.rssPerAgentKb', label: `proxy RSS per idle agent, ${n} agents of 1 cluster`, unit: 'KB', runs: ha.map((r) => r.rssPerAgentBytes / 1024) }),
      figure({ key: 'sessions.ha.handshakesPerSecond', reference: 'sessions.handshakesPerSecond', label: `handshakes incl. config, ${n} of 1 cluster at once`, unit: '/s', runs: ha.map((r) => r.handshakesPerSecond) }),
    );
  }
  const storm = raw.storm ?? [];
  if (storm.length) {
    const n = storm[0]!.agents;
    figures.push(
      figure({ key: 'storm.backSeconds', label: `reconnect storm: ${n} agents back after proxy kill`, unit: 's', runs: storm.map((r) => r.backSeconds) }),
      figure({ key: 'storm.proxyUpSeconds', label: 'reconnect storm: proxy serving again after kill', unit: 's', runs: storm.map((r) => r.proxyUpSeconds) }),
      figure({ key: 'eld.storm.p99Ms', label: 'proxy event-loop delay p99, storm', unit: 'ms', runs: storm.map((r) => r.eld.p99Ms) }),
      figure({ key: 'eld.storm.maxMs', label: 'proxy event-loop delay max, storm', unit: 'ms', runs: storm.map((r) => r.eld.maxMs) }),
    );
  }
  const pki = raw.pki?.results;
  if (pki) {
    for (const kind of ['serving', 'kubeconfig'] as const) {
      const what = kind === 'serving' ? 'serving cert' : 'kubeconfig';
      figures.push(
        figure({ key: `pki.${kind}.msPerItem`, label: `${what}: worker (direct col = inline)`, unit: 'ms each', runs: [pki[kind].worker.msPerItem], direct: [pki[kind].inline.msPerItem] }),
        figure({ key: `pki.${kind}.maxBlockMs`, label: `${what}: loop blocked max, worker (inline)`, unit: 'ms', runs: [pki[kind].worker.maxBlockMs], direct: [pki[kind].inline.maxBlockMs] }),
      );
    }
  }
  figures.push(...footprintFigures(raw.footprint));
  figures.push(...agentFigures(raw.agent, opts.bulkBytes));
  figures.push(...fleetFigures(raw.fleet));
  figures.push(...wanFigures(raw.wan, opts.wanBytes));
  figures.push(...fairnessFigures(raw.fairness));
  figures.push(...h2Figures(raw.h2, opts.concurrency, opts.watches));
  return figures;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
