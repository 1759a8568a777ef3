import { hostSetKey } from './hosts.js';
import type { IssuedCert, ServingCertRequest } from './issue.js';
import { freshNotAfter, shouldRenew } from './renewal.js';
import { DEFAULT_LEAF_VALIDITY_DAYS } from './validity.js';

/** Anything that can issue serving certificates (a `PkiPool`, or a fake in tests). */
export interface ServingCertIssuer {
  issueServingCert(req: ServingCertRequest): Promise<IssuedCert>;
  /** The CA's own expiry: no certificate outlives it. Unknown: taken as far away. */
  readonly caNotAfter?: Date;
}

/** Options of a `ServingCertCache`. */
export interface ServingCertCacheOptions {
  /** Clock, for tests; default `Date.now`. */
  now?: () => number;
}

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
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(issuer: ServingCertIssuer, opts: ServingCertCacheOptions = {}) {
    this.#issuer = issuer;
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
      const now = new Date(this.#now());
      const caNotAfter = this.#issuer.caNotAfter ?? new Date(8.64e15);
      if (!shouldRenew(cert, freshNotAfter(now, DEFAULT_LEAF_VALIDITY_DAYS, caNotAfter), now)) return cert;
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
