/**
 * Reconnect storm: N simulated agents (each its own cluster) connected to the real proxy;
 * the proxy is killed (SIGKILL, as a crash or an evicted pod) and started again on the
 * same port; time from the kill until every agent is connected again. The agents back off
 * as the real agent does (1 s, ×1.4, equal jitter). Event-loop delay of the new proxy from
 * its first /health answer until all are back.
 */
import type { BenchEnv } from './bench-env.js';
import { EldProbe, type EldReading } from './bench-eld.js';
import { simFleet } from './bench-phase-sessions.js';
import { waitIdle } from './bench-proc.js';

export interface StormRun {
  readonly agents: number;
  /** Kill → all agents connected again. */
  readonly backSeconds: number;
  /** Kill → the new proxy answers /health. */
  readonly proxyUpSeconds: number;
  /** Connection attempts the fleet made during the storm. */
  readonly attempts: number;
  readonly eld: EldReading;
}

export interface StormOptions {
  readonly agents: number;
  readonly runs: number;
  readonly maxConnecting: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export async function runStormPhase(env: BenchEnv, options: StormOptions): Promise<StormRun[]> {
  const clusters = await env.clusters('storm', options.agents);
  const [proxyPort] = await env.ports(1);
  const clustersFile = await env.writeClusters('clusters-storm.json', clusters);
  const runs: StormRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    let proxy = await env.startProxy({ port: proxyPort!, clustersFile, inspect: true, logName: `proxy-storm-${run}-a` });
    const sims = simFleet(env, proxyPort!, clusters, options.maxConnecting);
    try {
      await sims.waitConnected(options.agents, 180_000);
      await waitIdle(proxy.child.pid, { timeoutMs: 30_000 });
      const attemptsBefore = sims.stats().attempts;
      const killedAt = performance.now();
      await proxy.child.kill();
      proxy = await env.startProxy({ port: proxyPort!, clustersFile, inspect: true, logName: `proxy-storm-${run}-b` });
      const proxyUpSeconds = (performance.now() - killedAt) / 1000;
      const eld = new EldProbe(proxy.port, proxy.inspector);
      await eld.start();
      // Agents notice the kill at once; wait until the count dipped before waiting for it to recover.
      await waitBelow(sims, options.agents, 10_000);
      await sims.waitConnected(options.agents, options.timeoutMs);
      const backSeconds = (performance.now() - killedAt) / 1000;
      const result: StormRun = {
        agents: options.agents,
        backSeconds,
        proxyUpSeconds,
        attempts: sims.stats().attempts - attemptsBefore,
        eld: await eld.read(),
      };
      runs.push(result);
      options.log(
        `storm run ${run}: ${options.agents} agents back ${backSeconds.toFixed(2)} s after the kill` +
          ` (proxy up after ${proxyUpSeconds.toFixed(2)} s, ${result.attempts} attempts)`,
      );
    } finally {
      await sims.close();
      await proxy.child.stop();
    }
  }
  return runs;
}

function waitBelow(sims: ReturnType<typeof simFleet>, n: number, timeoutMs: number): Promise<void> {
  if (sims.connected() < n) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`agents did not notice the proxy kill within ${timeoutMs} ms`))), timeoutMs);
    const off = sims.onChange(() => {
      if (sims.connected() >= n) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
