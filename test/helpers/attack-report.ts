/**
 * What one attack did to the attacked process and to the good users meanwhile: peak RSS
 * and fds (proc-stats.ts), the good client's latencies, and the attack's own facts (bytes
 * sent, whether the attacker was cut off, …). Shared by the hostile tests, which assert on
 * it, and `npm run soak -- --hostile`, which prints it.
 */
import { describePeak, type ProcPeak } from './proc-stats.js';

export interface ProbeSummary {
  readonly probes: number;
  readonly failures: readonly string[];
  /** Slowest kube and ks GET of the good client, ms. */
  readonly maxKubeMs: number;
  readonly maxKsMs: number;
}

export interface AttackReport {
  readonly attack: string;
  /** The attacked process and what it held (before, peak, after). */
  readonly victim: 'proxy' | 'agent';
  readonly peak: ProcPeak;
  readonly probes?: ProbeSummary;
  readonly facts: Readonly<Record<string, number | string | boolean>>;
}

/** Run `probe` back to back (with a short pause) until `stop()`; collects latencies and failures. */
export function probeWhile(probe: () => Promise<{ kubeMs: number; ksMs: number }>, pauseMs = 200): { stop(): Promise<ProbeSummary> } {
  let running = true;
  let probes = 0;
  let maxKubeMs = 0;
  let maxKsMs = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const r = await probe();
        maxKubeMs = Math.max(maxKubeMs, r.kubeMs);
        maxKsMs = Math.max(maxKsMs, r.ksMs);
      } catch (error) {
        if (failures.length < 10) failures.push(error instanceof Error ? error.message : String(error));
      }
      probes += 1;
      if (running) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { probes, failures, maxKubeMs, maxKsMs };
    },
  };
}

export function describeReport(r: AttackReport): string {
  const facts = Object.entries(r.facts)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`)
    .join(' ');
  const probes = r.probes
    ? `; good client: ${r.probes.probes} probes, ${r.probes.failures.length} failed, slowest kube ${r.probes.maxKubeMs.toFixed(0)} ms, ks ${r.probes.maxKsMs.toFixed(0)} ms`
    : '';
  return `${r.attack}: ${describePeak(r.victim, r.peak)}${probes}; ${facts}`;
}
