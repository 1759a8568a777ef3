/**
 * A coordination.k8s.io/v1 Lease used as client-go's resourcelock.LeaseLock does
 * (holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions), written
 * with optimistic concurrency (resourceVersion; 409 Conflict means someone else wrote first).
 *
 * Expiry is judged by OUR clock: we note when we first saw the lease's spec in its current
 * form (client-go's observedTime) and consider it expired `leaseDurationSeconds` after
 * that, never trusting the remote renewTime against our clock.
 */
import { KubeError, type KubeClient } from '../../kube/kube-client.js';
import type { AcquireResult, RenewResult } from '../../machines/leader-election.js';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [field: string]: unknown;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
  spec?: LeaseSpec;
}

/** One lease, one identity. Remembers the last object read or written (its resourceVersion). */
export class LeaseLock {
  /** The last lease object the server gave us. */
  #lease: Lease | undefined;
  /** The lease spec as last seen, and when (our clock) it was first seen like that. */
  #observed: { spec: string; atMs: number } | undefined;
  /** The latest request sequence; release waits for it, since an abandoned one may still land. */
  #inflight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name: string,
    private readonly identity: string,
    /** Told of every write: `create`, `acquire`, `renew` or `release`. */
    private readonly counted: (reason: 'create' | 'acquire' | 'renew' | 'release') => void = () => {},
  ) {}

  get #collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  get #path(): string {
    return `${this.#collection}/${encodeURIComponent(this.name)}`;
  }

  tryAcquire(leaseDurationMs: number): Promise<AcquireResult> {
    return this.#track(this.#tryAcquire(Math.ceil(leaseDurationMs / 1000)));
  }

  renew(): Promise<RenewResult> {
    return this.#track(this.#renew());
  }

  async release(): Promise<void> {
    await this.#inflight;
    let lease = this.#lease;
    for (let attempt = 0; lease && holderOf(lease) === this.identity; attempt += 1) {
      const now = microTime();
      const spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
      try {
        await this.#put(lease, spec, 'release');
        return;
      } catch (error) {
        if (!isCode(error, 409) || attempt > 0) throw error;
        lease = await this.#get();
      }
    }
  }

  async #tryAcquire(leaseDurationSeconds: number): Promise<AcquireResult> {
    let lease: Lease;
    try {
      lease = await this.#get();
    } catch (error) {
      if (!isCode(error, 404)) throw error;
      return this.#create(leaseDurationSeconds);
    }
    const holder = holderOf(lease);
    if (holder && holder !== this.identity && !this.#expired(lease)) return { acquired: false, holder };
    const now = microTime();
    const ours = holder === this.identity;
    const spec: LeaseSpec = {
      ...lease.spec,
      holderIdentity: this.identity,
      leaseDurationSeconds,
      acquireTime: ours ? (lease.spec?.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (ours ? 0 : 1),
    };
    try {
      await this.#put(lease, spec, 'acquire');
      return { acquired: true, holder: this.identity, renewTime: now };
    } catch (error) {
      // Another replica wrote first: it won this round.
      if (isCode(error, 409)) return { acquired: false, ...(holder ? { holder } : {}) };
      throw error;
    }
  }

  async #create(leaseDurationSeconds: number): Promise<AcquireResult> {
    const now = microTime();
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: { holderIdentity: this.identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
    };
    try {
      this.counted('create');
      this.#remember(await this.client.json<Lease>({ method: 'POST', path: this.#collection, body: lease }));
      return { acquired: true, holder: this.identity, renewTime: now };
    } catch (error) {
      // AlreadyExists: another replica created it first.
      if (isCode(error, 409)) return { acquired: false };
      throw error;
    }
  }

  async #renew(): Promise<RenewResult> {
    let lease = this.#lease;
    for (let attempt = 0; ; attempt += 1) {
      try {
        lease ??= await this.#get();
      } catch (error) {
        if (isCode(error, 404)) return { renewed: false };
        throw error;
      }
      const holder = holderOf(lease);
      if (holder !== this.identity) return { renewed: false, ...(holder ? { holder } : {}) };
      const now = microTime();
      try {
        await this.#put(lease, { ...lease.spec, renewTime: now }, 'renew');
        return { renewed: true, renewTime: now };
      } catch (error) {
        // A write we did not expect: read the lease again and decide once more.
        if (!isCode(error, 409) || attempt > 0) throw error;
        lease = undefined;
      }
    }
  }

  async #get(): Promise<Lease> {
    const lease = await this.client.json<Lease>({ method: 'GET', path: this.#path });
    this.#remember(lease);
    return lease;
  }

  async #put(lease: Lease, spec: LeaseSpec, reason: 'acquire' | 'renew' | 'release'): Promise<void> {
    this.counted(reason);
    this.#remember(await this.client.json<Lease>({ method: 'PUT', path: this.#path, body: { ...lease, spec } }));
  }

  #remember(lease: Lease): void {
    this.#lease = lease;
    const spec = JSON.stringify(lease.spec ?? {});
    if (this.#observed?.spec !== spec) this.#observed = { spec, atMs: Date.now() };
  }

  /** Not renewed for its duration since we saw it change, by our clock. */
  #expired(lease: Lease): boolean {
    const seenAt = this.#observed?.atMs ?? Date.now();
    return Date.now() >= seenAt + (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  }

  #track<T>(operation: Promise<T>): Promise<T> {
    this.#inflight = operation.catch(() => undefined);
    return operation;
  }
}

function holderOf(lease: Lease): string {
  return lease.spec?.holderIdentity ?? '';
}

function isCode(error: unknown, code: number): boolean {
  return error instanceof KubeError && error.code === code;
}

/** RFC 3339 with microseconds, as metav1.MicroTime: 2026-11-27T08:00:00.000000Z. */
function microTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
