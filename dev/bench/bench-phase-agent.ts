/**
 * Agent phase (issue 10): the real agent's process RSS, connected and idle, and at its
 * largest during one bulk GET through the tunnel on the kube path (sampled from /proc every
 * 50 ms), then idle again after it. A fresh proxy and agent per run. The proxy's largest RSS
 * during the transfer is kept beside it.
 */
import type { BenchEnv } from './bench-env.js';
import type { BulkResult } from './bench-load-jobs.js';
import { runLoad } from './bench-load-run.js';
import { MB, settledMemory, settlingNote, type MemoryReading } from './bench-memory.js';
import { sampleMaxRss } from './bench-proc.js';
import { figure, type Figure } from './bench-report.js';
import { startTunnel } from './bench-tunnel.js';

export interface AgentRun {
  readonly idle: MemoryReading;
  /** Largest agent RSS during the transfer. */
  readonly loadedRss: number;
  readonly proxyLoadedRss: number;
  readonly transfer: BulkResult;
  /** Idle again after the transfer, before a forced GC (what it keeps). */
  readonly after: MemoryReading;
}

export interface AgentOptions {
  readonly runs: number;
  readonly bulkBytes: number;
  readonly log: (line: string) => void;
}

export async function runAgentPhase(env: BenchEnv, options: AgentOptions): Promise<AgentRun[]> {
  const runs: AgentRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const tunnel = await startTunnel(env, { name: `agent-rss-${run}` });
    try {
      const pid = tunnel.agent.pid;
      const idle = await settledMemory(pid, tunnel.agent.probe, env.settleMs);
      const sampler = sampleMaxRss([pid, tunnel.proxy.child.pid]);
      let transfer: BulkResult;
      let max: Map<number, number>;
      try {
        const target = tunnel.paths.kube.tunnel;
        transfer = await runLoad<BulkResult>(env.children, { kind: 'bulk', target: { ...target, url: `${target.url}/bytes?n=${options.bulkBytes}` }, timeoutMs: 300_000 });
      } finally {
        max = sampler.stop();
      }
      const after = await settledMemory(pid, tunnel.agent.probe, env.settleMs);
      const result: AgentRun = { idle, loadedRss: max.get(pid) ?? 0, proxyLoadedRss: max.get(tunnel.proxy.child.pid) ?? 0, transfer, after };
      runs.push(result);
      options.log(
        `agent run ${run}: RSS idle ${(idle.rssIdle / MB).toFixed(1)} MB (${settlingNote(idle)}), during ${(transfer.bytes / MB).toFixed(0)} MiB` +
          ` ${(result.loadedRss / MB).toFixed(1)} MB, after ${(after.rssIdle / MB).toFixed(1)} MB (heap ${(idle.afterGc.heapUsed / MB).toFixed(1)} MB)`,
      );
    } finally {
      await tunnel.stop();
    }
  }
  return runs;
}

export function agentFigures(runs: readonly AgentRun[] | undefined, bulkBytes: number): Figure[] {
  if (!runs?.length) return [];
  const mib = Math.round(bulkBytes / MB);
  return [
    figure({ key: 'agent.idle.rssMb', label: 'agent RSS, connected and idle', unit: 'MB', runs: runs.map((r) => r.idle.rssIdle / MB) }),
    figure({ key: 'agent.idle.rssUnsettledMb', label: 'agent RSS, connected, in its first seconds (before V8 settles its heap)', unit: 'MB', runs: runs.map((r) => r.idle.rssUnsettled / MB) }),
    figure({ key: 'agent.loaded.rssMb', label: `agent RSS max during a ${mib} MiB GET (kube)`, unit: 'MB', runs: runs.map((r) => r.loadedRss / MB) }),
    figure({ key: 'agent.after.rssMb', label: `agent RSS idle after the ${mib} MiB GET`, unit: 'MB', runs: runs.map((r) => r.after.rssIdle / MB) }),
    figure({ key: 'agent.idle.heapUsedMb', label: 'agent V8 heap used after GC, idle', unit: 'MB', runs: runs.map((r) => r.idle.afterGc.heapUsed / MB) }),
    figure({ key: 'agent.proxyLoaded.rssMb', label: `proxy RSS max during the ${mib} MiB GET`, unit: 'MB', runs: runs.map((r) => r.proxyLoadedRss / MB) }),
  ];
}
