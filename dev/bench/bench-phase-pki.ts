/**
 * PKI phase: per-cluster serving certificates and kubeconfigs (client certificate +
 * kubeconfig YAML) issued inline on the event loop vs in the piscina pool, with several in
 * flight as when many clusters connect at once; ms per item and how long the event loop
 * was blocked meanwhile (delay beyond a 1 ms sampling interval). The same measurement as
 * dev/bench/bench-pki.ts, for both kinds of issuance.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CaPem } from '../../src/pki/ca-pem.js';
import { buildKubeconfig } from '../../src/pki/kubeconfig.js';
import { PkiPool, type PkiPoolMode } from '../../src/workers/pki-pool.js';

const RESOLUTION_MS = 1;

export interface PkiMeasurement {
  readonly msPerItem: number;
  readonly maxBlockMs: number;
  readonly p99BlockMs: number;
}

export type PkiKind = 'serving' | 'kubeconfig';

export interface PkiPhaseResult {
  readonly count: number;
  readonly concurrency: number;
  readonly threads: number;
  readonly results: Record<PkiKind, Record<PkiPoolMode, PkiMeasurement>>;
}

export async function runPkiPhase(ca: CaPem, options: { count: number; concurrency: number; threads: number }): Promise<PkiPhaseResult> {
  const results = { serving: {}, kubeconfig: {} } as Record<PkiKind, Record<PkiPoolMode, PkiMeasurement>>;
  for (const mode of ['inline', 'worker'] as const) {
    const pool = await PkiPool.create(ca, { mode, threads: options.threads });
    try {
      const tasks: Record<PkiKind, () => Promise<unknown>> = {
        serving: () => pool.issueServingCert({ hosts: ['127.0.0.1', '10.96.0.10', 'mc-member.kubesphere-system.svc'] }),
        kubeconfig: async () => {
          const cert = await pool.issueClientCert({ commonName: 'kubernetes-admin', organizations: ['system:masters'] });
          return buildKubeconfig({ server: 'https://10.96.0.10:6443', clusterName: 'member', caPem: ca.certPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem });
        },
      };
      // Warm up: worker start, module load, JIT.
      await Promise.all(Array.from({ length: Math.max(options.threads, 4) }, () => Promise.all([tasks.serving(), tasks.kubeconfig()])));
      for (const kind of ['serving', 'kubeconfig'] as const) {
        results[kind][mode] = await measure(tasks[kind], options.count, options.concurrency);
      }
    } finally {
      await pool.destroy();
    }
  }
  return { ...options, results };
}

async function measure(task: () => Promise<unknown>, count: number, concurrency: number): Promise<PkiMeasurement> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next += 1;
      await task();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsed = performance.now() - started;
  histogram.disable();
  return {
    msPerItem: elapsed / count,
    maxBlockMs: Math.max(0, histogram.max / 1e6 - RESOLUTION_MS),
    p99BlockMs: Math.max(0, histogram.percentile(99) / 1e6 - RESOLUTION_MS),
  };
}
