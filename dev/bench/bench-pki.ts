/**
 * Benchmark: serving-certificate issuance inline (event loop) vs in piscina
 * workers. Prints ms per certificate and the event-loop delay seen while
 * issuing. Numbers only; nothing is asserted.
 *
 *   node dist/dev/bench/bench-pki.js [--count 200] [--concurrency 8] [--threads 2] [--ca ec-p256|ec-p384|rsa-2048]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createSelfSignedCa, type CaKeyType } from '../../src/pki/ca-create.js';
import type { CaPem } from '../../src/pki/ca-pem.js';
import { PkiPool, type PkiPoolMode } from '../../src/workers/pki-pool.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
    ca: { type: 'string', default: 'ec-p256' },
  },
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const threads = Number(values.threads);
const caKeyType = values.ca as CaKeyType;

interface Result {
  msPerCert: number;
  maxBlockMs: number;
  p99BlockMs: number;
}

async function measure(pool: PkiPool, parallel: number): Promise<Result> {
  const hosts = ['10.96.0.10', 'mc-member.kubesphere-system.svc'];
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const start = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await pool.issueServingCert({ hosts });
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  const elapsed = performance.now() - start;
  histogram.disable();
  // The histogram measures delay beyond its 1 ms resolution timer, in ns.
  return { msPerCert: elapsed / count, maxBlockMs: histogram.max / 1e6, p99BlockMs: histogram.percentile(99) / 1e6 };
}

async function bench(ca: CaPem, mode: PkiPoolMode): Promise<{ sequential: Result; parallel: Result }> {
  const pool = await PkiPool.create(ca, { mode, threads });
  try {
    // Warm up: worker start, module load, JIT.
    await Promise.all(Array.from({ length: Math.max(threads, 4) }, () => pool.issueServingCert({ hosts: [] })));
    return { sequential: await measure(pool, 1), parallel: await measure(pool, concurrency) };
  } finally {
    await pool.destroy();
  }
}

const fmt = (n: number): string => n.toFixed(2).padStart(8);

const ca = await createSelfSignedCa({ keyType: caKeyType });
console.log(`bench-pki: ${count} serving certs per run, CA ${caKeyType}, worker threads ${threads}, parallel runs with ${concurrency} in flight`);
console.log('mode     run          ms/cert  max-loop-delay-ms  p99-loop-delay-ms');
for (const mode of ['inline', 'worker'] as const) {
  const r = await bench(ca, mode);
  for (const [run, res] of [['sequential', r.sequential], ['parallel', r.parallel]] as const) {
    console.log(`${mode.padEnd(8)} ${run.padEnd(10)} ${fmt(res.msPerCert)} ${fmt(res.maxBlockMs).padStart(18)} ${fmt(res.p99BlockMs).padStart(18)}`);
  }
}
