import { X509Certificate } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { checkCaPem, type CaPem } from '../pki/ca-pem.js';
import type { ClientCertRequest, IssuedCert, ServingCertRequest } from '../pki/issue.js';
import type { ServingCertIssuer } from '../pki/serving-cert-cache.js';
import type { PkiTaskName, PkiWorkerData } from './pki-tasks.js';

/** `worker`: piscina threads (the default). `inline`: same API on the event loop (benchmarks, comparison). */
export type PkiPoolMode = 'worker' | 'inline';

/** Options of `PkiPool.create`. */
export interface PkiPoolOptions {
  mode?: PkiPoolMode;
  /** Worker threads at most; default min(2, CPUs). None runs until the first certificate is asked for. */
  threads?: number;
  /** An idle thread exits after this; default 30 s. Serving certificates are cached, so the pool is idle soon after start. */
  idleTimeoutMs?: number;
}

interface Backend {
  issueServingCert(req: ServingCertRequest): Promise<IssuedCert>;
  issueClientCert(req: ClientCertRequest): Promise<IssuedCert>;
  destroy(): Promise<void>;
  /** Worker threads running now. */
  threads(): number;
}

/** On the event loop; the X.509 code (@peculiar/x509) is loaded with it, here only. */
async function inlineBackend(ca: CaPem): Promise<Backend> {
  const [{ importCa }, issue] = await Promise.all([import('../pki/ca.js'), import('../pki/issue.js')]);
  const authority = await importCa(ca);
  return {
    issueServingCert: (req) => issue.issueServingCert(authority, req),
    issueClientCert: (req) => issue.issueClientCert(authority, req),
    destroy: async () => {},
    threads: () => 0,
  };
}

/**
 * Piscina threads, made on first use: no thread (and not even piscina's module) until a
 * certificate is asked for, and idle threads end after `idleTimeoutMs` (minThreads 0).
 */
function workerBackend(ca: CaPem, opts: PkiPoolOptions): Backend {
  const threads = Math.max(1, opts.threads ?? Math.min(2, availableParallelism()));
  const workerData: PkiWorkerData = { ca };
  let pool: Promise<Piscina<ServingCertRequest | ClientCertRequest, IssuedCert>> | undefined;
  let started: Piscina | undefined;
  const piscina = () =>
    (pool ??= import('piscina').then(
      ({ Piscina }) =>
        (started = new Piscina<ServingCertRequest | ClientCertRequest, IssuedCert>({
          // Compiled layout: dist/src/workers/pki-pool.js beside pki-worker.js.
          filename: fileURLToPath(new URL('./pki-worker.js', import.meta.url)),
          name: 'pki',
          minThreads: 0,
          maxThreads: threads,
          idleTimeout: opts.idleTimeoutMs ?? 30_000,
          workerData,
        })),
    ));
  const run = async (name: PkiTaskName, req: ServingCertRequest | ClientCertRequest) => (await piscina()).run(req, { name });
  return {
    issueServingCert: (req) => run('issueServingCert', req),
    issueClientCert: (req) => run('issueClientCert', req),
    destroy: async () => {
      if (pool) await (await pool).destroy();
    },
    threads: () => started?.threads.length ?? 0,
  };
}

/**
 * The typed pool actors call to issue certificates with the proxy CA. Key
 * generation and signing run in piscina worker threads (or inline on the
 * event loop with `mode: 'inline'`). The CA key crosses to each worker once.
 */
export class PkiPool implements ServingCertIssuer {
  readonly #backend: Backend;
  #destroyed = false;

  private constructor(
    /** How this pool runs its work. */
    readonly mode: PkiPoolMode,
    /** The CA certificate PEM, for chaining (kubeconfig, TLS `ca`). */
    readonly caPem: string,
    backend: Backend,
  ) {
    this.#backend = backend;
    this.caNotAfter = new Date(new X509Certificate(caPem).validTo);
  }

  /** The CA's expiry: no certificate it signs outlives it. */
  readonly caNotAfter: Date;

  /**
   * Check the CA (a one-line `PkiError` if it is bad) and start the pool.
   * `ca` is PEM; the key may be RSA or ECDSA, PKCS#1, PKCS#8 or SEC1.
   */
  static async create(ca: CaPem, opts: PkiPoolOptions = {}): Promise<PkiPool> {
    const checked = checkCaPem(ca);
    const mode = opts.mode ?? 'worker';
    const normalized: CaPem = { certPem: checked.certPem, keyPem: checked.keyPem };
    const backend = mode === 'inline' ? await inlineBackend(normalized) : workerBackend(normalized, opts);
    return new PkiPool(mode, checked.certPem, backend);
  }

  /** Issue a per-cluster HTTPS serving certificate (see `issueServingCert` in src/pki/issue.ts). */
  issueServingCert(req: ServingCertRequest): Promise<IssuedCert> {
    return this.#destroyed ? this.#gone() : this.#backend.issueServingCert(req);
  }

  /** Issue a client certificate (see `issueClientCert` in src/pki/issue.ts). */
  issueClientCert(req: ClientCertRequest): Promise<IssuedCert> {
    return this.#destroyed ? this.#gone() : this.#backend.issueClientCert(req);
  }

  /** Worker threads running now: 0 until the first certificate, and again once they were idle for `idleTimeoutMs`. */
  get threads(): number {
    return this.#backend.threads();
  }

  /** Stop the worker threads; tasks still running are rejected. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.#backend.destroy();
  }

  #gone(): Promise<never> {
    return Promise.reject(new Error('PkiPool is destroyed'));
  }
}
