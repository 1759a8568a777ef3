/**
 * Fleet phase (issue 10): thousands of simulated idle agents on one real proxy, run from
 * several child processes. Per run: a fresh proxy with the fleet's clusters configured,
 * its memory with no agent; all agents connect at once (handshakes/s = agents ÷ time until
 * all are connected); memory with all of them idle; then a proxy restart (SIGTERM, a new
 * proxy on the same port) and the time until every agent is back, with the new proxy's
 * event-loop delay meanwhile (through the probe), and its memory once idle again.
 * The agents back off as the real agent does (1 s, ×1.4, equal jitter, 2 min cap).
 */
import type { BenchEnv, ProxyChild } from './bench-env.js';
import { startFleet, type Fleet } from './bench-fleet.js';
import { KB, MB, settledMemory, settlingNote, type MemoryReading } from './bench-memory.js';
import type { ProbeEld } from './bench-probe.js';
import { figure, type Figure } from './bench-report.js';

export interface FleetRun {
  readonly agents: number;
  readonly clusters: number;
  readonly noAgents: MemoryReading;
  readonly connectSeconds: number;
  readonly handshakesPerSecond: number;
  readonly idle: MemoryReading;
  /** SIGTERM to the old proxy until it exited. */
  readonly stopSeconds: number;
  /** SIGTERM until the new proxy answers /health. */
  readonly upSeconds: number;
  /** SIGTERM until every agent is connected again. */
  readonly backSeconds: number;
  readonly reconnectAttempts: number;
  /** Event-loop delay of the new proxy from its first /health answer until all were back. */
  readonly eld: ProbeEld | null;
  readonly afterRestart: MemoryReading;
}

export interface FleetOptions {
  readonly agents: number;
  readonly clusters: number;
  readonly procs: number;
  readonly runs: number;
  readonly maxConnecting: number;
  readonly log: (line: string) => void;
}

export async function runFleetPhase(env: BenchEnv, options: FleetOptions): Promise<FleetRun[]> {
  if (options.agents % options.clusters !== 0) throw new Error(`--fleet-agents ${options.agents} must be a multiple of --fleet-clusters ${options.clusters}`);
  const perCluster = options.agents / options.clusters;
  const clusters = await env.clusters('fleet', options.clusters);
  const [port] = await env.ports(1);
  const clustersFile = await env.writeClusters('clusters-fleet.json', clusters);
  const connectTimeoutMs = 120_000 + 50 * options.agents;
  const runs: FleetRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    let proxy: ProxyChild = await env.startProxy({ port: port!, clustersFile, logName: `proxy-fleet-${run}-a`, healthTimeoutMs: 60_000 });
    let fleet: Fleet | undefined;
    try {
      const noAgents = await settledMemory(proxy.child.pid, proxy.probe, env.settleMs);
      fleet = startFleet(env, { proxyPort: port!, clusters, perCluster, procs: options.procs, maxConnecting: options.maxConnecting });
      const connectMs = await fleet.waitConnected(options.agents, connectTimeoutMs);
      options.log(`fleet run ${run}: ${options.agents} agents (${options.clusters} clusters) connected in ${(connectMs / 1000).toFixed(1)} s`);
      const idle = await settledMemory(proxy.child.pid, proxy.probe, env.settleMs, 120_000);
      options.log(
        `fleet run ${run}: proxy RSS ${(idle.rssIdle / MB).toFixed(0)} MB with all idle (${settlingNote(idle)}),` +
          ` ${(noAgents.rssIdle / MB).toFixed(0)} MB before the agents (${settlingNote(noAgents)})`,
      );

      const attemptsBefore = fleet.attempts();
      const restartAt = performance.now();
      await proxy.child.stop(60_000);
      const stopSeconds = (performance.now() - restartAt) / 1000;
      // The agents storm the new proxy as it starts: its first /health answer can take long.
      proxy = await env.startProxy({ port: port!, clustersFile, logName: `proxy-fleet-${run}-b`, healthTimeoutMs: connectTimeoutMs });
      const upSeconds = (performance.now() - restartAt) / 1000;
      await proxy.probe.eldStart();
      await fleet.waitBelow(options.agents, 10_000);
      await fleet.waitConnected(options.agents, connectTimeoutMs);
      const backSeconds = (performance.now() - restartAt) / 1000;
      const eld = await proxy.probe.eldRead();
      const afterRestart = await settledMemory(proxy.child.pid, proxy.probe, env.settleMs, 120_000);
      const result: FleetRun = {
        agents: options.agents,
        clusters: options.clusters,
        noAgents,
        connectSeconds: connectMs / 1000,
        handshakesPerSecond: options.agents / (connectMs / 1000),
        idle,
        stopSeconds,
        upSeconds,
        backSeconds,
        reconnectAttempts: fleet.attempts() - attemptsBefore,
        eld,
        afterRestart,
      };
      runs.push(result);
      options.log(
        `fleet run ${run}: restart — old proxy stopped in ${stopSeconds.toFixed(1)} s, new up at ${upSeconds.toFixed(1)} s,` +
          ` all back at ${backSeconds.toFixed(1)} s (${result.reconnectAttempts} attempts), event-loop p99 ${eld?.p99Ms.toFixed(1) ?? 'n/a'} ms`,
      );
    } finally {
      await fleet?.stop();
      await proxy.child.stop(60_000);
    }
  }
  return runs;
}

export function fleetFigures(runs: readonly FleetRun[] | undefined): Figure[] {
  if (!runs?.length) return [];
  const n = runs[0]!.agents;
  const c = runs[0]!.clusters;
  const who = `${n} idle agents (${c} clusters)`;
  return [
    figure({ key: 'fleet.rssMb', label: `proxy RSS, ${who}`, unit: 'MB', runs: runs.map((r) => r.idle.rssIdle / MB), direct: runs.map((r) => r.noAgents.rssIdle / MB), note: 'direct column: the same proxy before any agent connected' }),
    figure({ key: 'fleet.rssPerAgentKb', label: `proxy RSS per idle agent, ${who}`, unit: 'KB', runs: runs.map((r) => (r.idle.rssIdle - r.noAgents.rssIdle) / r.agents / KB) }),
    figure({ key: 'fleet.heapUsedMb', label: `proxy V8 heap after GC, ${who}`, unit: 'MB', runs: runs.map((r) => r.idle.afterGc.heapUsed / MB) }),
    figure({ key: 'fleet.handshakesPerSecond', label: `handshakes incl. config, ${n} at once`, unit: '/s', runs: runs.map((r) => r.handshakesPerSecond) }),
    figure({ key: 'fleet.backSeconds', label: `proxy restart: all ${n} back (from SIGTERM)`, unit: 's', runs: runs.map((r) => r.backSeconds) }),
    figure({ key: 'fleet.upSeconds', label: 'proxy restart: new proxy serving (from SIGTERM)', unit: 's', runs: runs.map((r) => r.upSeconds) }),
    figure({ key: 'fleet.eldP99Ms', label: 'proxy event-loop delay p99 while all reconnect', unit: 'ms', runs: runs.map((r) => r.eld?.p99Ms) }),
    figure({ key: 'fleet.eldMaxMs', label: 'proxy event-loop delay max while all reconnect', unit: 'ms', runs: runs.map((r) => r.eld?.maxMs) }),
    figure({ key: 'fleet.afterRestart.rssMb', label: `proxy RSS after the restart, ${n} idle`, unit: 'MB', runs: runs.map((r) => r.afterRestart.rssIdle / MB) }),
  ];
}
