import { hostSetKey } from './hosts.js';
import type { IssuedCert, ServingCertRequest } from './issue.js';

/** Anything that can issue serving certificates (a `PkiPool`, or a fake in tests). */
export interface ServingCertIssuer {
  issueServingCert(req: ServingCertRequest): Promise<IssuedCert>;
}

/** Options of a `ServingCertCache`. */
export interface ServingCertCacheOptions {
  /** Reissue when less than this is left before notAfter; default 30 days. */
  renewBeforeMs?: number;
  /** Clock, for tests; default `Date.now`. */
  now?: () => number;
}

/** Default renewal margin: reissue a serving certificate with < 30 days left. */
export const DEFAULT_RENEW_BEFORE_MS = 30 * 86_400_000;

interface Entry {
  key: string;
  cert: Promise<IssuedCert>;
}

/**
 * Per-cluster serving certificates. `get` reuses the cluster's certificate
 * while its host set is unchanged and it is not near expiry, and otherwise
 * issues one; concurrent calls for the same cluster and hosts share one
 * issuance. Certificates are per cluster, never per connection.
 */
export class ServingCertCache {
  readonly #issuer: ServingCertIssuer;
  readonly #renewBeforeMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(issuer: ServingCertIssuer, opts: ServingCertCacheOptions = {}) {
    this.#issuer = issuer;
    this.#renewBeforeMs = opts.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * The serving certificate of `clusterName` for the extra `hosts` (besides
   * the kubernetes names). Rejects if issuance fails; the next call retries.
   */
  async get(clusterName: string, hosts: readonly string[]): Promise<IssuedCert> {
    const key = hostSetKey(hosts);
    const entry = this.#entries.get(clusterName);
    if (entry && entry.key === key) {
      const cert = await entry.cert;
      if (cert.notAfter.getTime() - this.#now() > this.#renewBeforeMs) return cert;
      // Near expiry: only the first caller to notice replaces it.
      if (this.#entries.get(clusterName) !== entry) return this.get(clusterName, hosts);
    }
    return this.#issue(clusterName, key, hosts);
  }

  /** Forget a cluster's certificate (cluster deleted). An issuance in flight is not stored. */
  delete(clusterName: string): boolean {
    return this.#entries.delete(clusterName);
  }

  /** Number of clusters with a certificate cached or in flight. */
  get size(): number {
    return this.#entries.size;
  }

  #issue(clusterName: string, key: string, hosts: readonly string[]): Promise<IssuedCert> {
    const entry: Entry = { key, cert: this.#issuer.issueServingCert({ hosts: [...hosts] }) };
    this.#entries.set(clusterName, entry);
    entry.cert.catch(() => {
      // A failed issuance is not cached; leave a newer entry alone.
      if (this.#entries.get(clusterName) === entry) this.#entries.delete(clusterName);
    });
    return entry.cert;
  }
}
