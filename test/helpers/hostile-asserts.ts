/**
 * The two things every hostile-peer test asserts: the attacked process stayed within its
 * bound, and the good users did not notice. Failures quote the whole report.
 */
import assert from 'node:assert/strict';
import { describeReport, type AttackReport } from './attack-report.js';
import { MiB } from './proc-stats.js';

export interface Bound {
  /** Peak RSS over the RSS before the attack, at most. */
  readonly rssGrowthMiB: number;
  /** Peak fds over the fds before the attack, at most. */
  readonly fdGrowth?: number;
}

export function assertBounded(report: AttackReport, bound: Bound): void {
  const growth = (report.peak.peakRssBytes - report.peak.before.rssBytes) / MiB;
  assert.ok(growth <= bound.rssGrowthMiB, `${report.victim} grew ${growth.toFixed(0)} MiB (bound ${bound.rssGrowthMiB}): ${describeReport(report)}`);
  if (bound.fdGrowth !== undefined) {
    const fds = report.peak.peakFds - report.peak.before.fds;
    assert.ok(fds <= bound.fdGrowth, `${report.victim} opened ${fds} fds (bound ${bound.fdGrowth}): ${describeReport(report)}`);
  }
}

/**
 * The good client kept working: every probe answered, none slower than `slackMs` over
 * the slowest of its calm probes (a generous slack: the machine may be busy).
 */
export function assertGoodClientFine(report: AttackReport, calmMs: number, slackMs = 2_000): void {
  const probes = report.probes;
  assert.ok(probes, 'the good client was probed');
  assert.ok(probes.probes > 0, `no probe ran: ${describeReport(report)}`);
  assert.deepEqual(probes.failures, [], `the good client failed: ${describeReport(report)}`);
  const slowest = Math.max(probes.maxKubeMs, probes.maxKsMs);
  assert.ok(slowest <= calmMs + slackMs, `the good client took ${slowest.toFixed(0)} ms (calm: ${calmMs.toFixed(0)} ms): ${describeReport(report)}`);
}

/** The slowest of a few probes before any attack. */
export async function calmLatency(probe: () => Promise<{ kubeMs: number; ksMs: number }>, rounds = 3): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < rounds; i += 1) {
    const r = await probe();
    slowest = Math.max(slowest, r.kubeMs, r.ksMs);
  }
  return slowest;
}
