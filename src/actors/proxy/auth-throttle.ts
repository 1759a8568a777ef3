/**
 * Failed-authentication throttling on the agent port, per source address: the first few
 * failures cost nothing, later ones make that address wait (doubling, capped) for its
 * next verdict, and past a limit the address is refused outright for a while. Quiet
 * addresses are forgotten; the table holds at most `maxAddresses` (least recently seen
 * evicted first), so a flood of sources cannot grow it. IPv6 addresses count per /64, the
 * block one host usually holds.
 *
 * Logging is bounded too: the first `immediateLines` failures of each interval get a line
 * of their own (so a user's wrong token is reported at once), the rest are summed up in
 * one line at the end of the interval. Pure apart from the injected clock, scheduler and
 * logger; the caller decides what "refused" and "wait" mean on the wire.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '../../log.js';

export interface AuthThrottleLimits {
  /** Failures an address may have before it is slowed down (default 5). */
  readonly freeFailures: number;
  /** Wait imposed after the first failure beyond `freeFailures`; doubles with each (default 500 ms). */
  readonly baseDelayMs: number;
  /** The longest wait (default 8 s). */
  readonly maxDelayMs: number;
  /** Failures after which the address is refused outright (default 20). */
  readonly refuseAfter: number;
  /** How long a refusal lasts (default 5 min). */
  readonly refuseForMs: number;
  /** An address with no failure for this long starts from zero again (default 15 min). */
  readonly forgetAfterMs: number;
  /** Most addresses remembered at once (default 10,000 — about 1 MB). */
  readonly maxAddresses: number;
  /** Length of a logging interval (default 60 s). */
  readonly summaryIntervalMs: number;
  /** Failures logged one by one at the start of each interval (default 5). */
  readonly immediateLines: number;
}

export const DEFAULT_AUTH_THROTTLE: AuthThrottleLimits = {
  freeFailures: 5,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  refuseAfter: 20,
  refuseForMs: 5 * 60_000,
  forgetAfterMs: 15 * 60_000,
  maxAddresses: 10_000,
  summaryIntervalMs: 60_000,
  immediateLines: 5,
};

/** What to do with the next attempt from an address. */
export type ThrottleVerdict =
  | { readonly kind: 'allow' }
  /** Judge it, but answer only after `ms`. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Refuse it before any work, saying when to come back. */
  | { readonly kind: 'refuse'; readonly retryAfterMs: number };

/** Counters to feed (prom-client Counters fit); see src/metrics/auth-throttle-metrics.ts. */
export interface AuthThrottleCounters {
  readonly failures: { inc(): void };
  readonly throttled: { inc(labels: { action: 'delayed' | 'refused' }): void };
}

/** Runs `fn` every `ms` until the returned function is called (setInterval by default). */
export type Every = (ms: number, fn: () => void) => () => void;

export interface AuthThrottleOptions {
  readonly logger: Logger;
  readonly limits?: Partial<AuthThrottleLimits>;
  readonly counters?: AuthThrottleCounters;
  /** Milliseconds clock (default Date.now). */
  readonly now?: () => number;
  readonly every?: Every;
}

/** Totals since start, for /metrics and tests. */
export interface AuthThrottleStats {
  readonly failures: number;
  readonly delayed: number;
  readonly refused: number;
  /** Addresses remembered right now. */
  readonly tracked: number;
}

interface AddressRecord {
  failures: number;
  lastFailureAt: number;
  refusedUntil: number;
}

interface IntervalTally {
  failures: number;
  delayed: number;
  refused: number;
  logged: number;
  /** Failures and throttled attempts per address key. */
  readonly byAddress: Map<string, number>;
  /** Failures per cluster named. */
  readonly byCluster: Map<string, number>;
}

const defaultEvery: Every = (ms, fn) => {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export class AuthThrottle {
  readonly #limits: AuthThrottleLimits;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #counters: AuthThrottleCounters | undefined;
  /** Insertion order is recency order: the first key is the least recently seen. */
  readonly #table = new Map<string, AddressRecord>();
  #tally = newTally();
  #totals = { failures: 0, delayed: 0, refused: 0 };
  readonly #stopTimer: () => void;

  constructor(options: AuthThrottleOptions) {
    this.#limits = { ...DEFAULT_AUTH_THROTTLE, ...options.limits };
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#counters = options.counters;
    this.#stopTimer = (options.every ?? defaultEvery)(this.#limits.summaryIntervalMs, () => this.flush());
  }

  /** Before any work on an attempt from `address` (the WebSocket upgrade, the config). */
  check(address: string): ThrottleVerdict {
    const key = throttleKey(address);
    const record = this.#fresh(key);
    if (!record) return { kind: 'allow' };
    const now = this.#now();
    if (record.refusedUntil > now) {
      this.#touch(key, record);
      this.#count('refused', key);
      return { kind: 'refuse', retryAfterMs: record.refusedUntil - now };
    }
    const over = record.failures - this.#limits.freeFailures;
    if (over <= 0) return { kind: 'allow' };
    this.#count('delayed', key);
    return { kind: 'delay', ms: Math.min(this.#limits.maxDelayMs, this.#limits.baseDelayMs * 2 ** Math.min(over - 1, 30)) };
  }

  /** An attempt from `address` failed (wrong token, unknown cluster). `reason` is logged: it must hold no secret. */
  failure(address: string, detail: { readonly cluster?: string; readonly reason: string }): void {
    const key = throttleKey(address);
    const now = this.#now();
    const record = this.#fresh(key) ?? { failures: 0, lastFailureAt: now, refusedUntil: 0 };
    record.failures += 1;
    record.lastFailureAt = now;
    const refusing = record.failures >= this.#limits.refuseAfter;
    if (refusing) record.refusedUntil = now + this.#limits.refuseForMs;
    this.#touch(key, record);
    this.#totals.failures += 1;
    this.#counters?.failures.inc();
    const tally = this.#tally;
    tally.failures += 1;
    tally.byAddress.set(key, (tally.byAddress.get(key) ?? 0) + 1);
    if (detail.cluster !== undefined) tally.byCluster.set(detail.cluster, (tally.byCluster.get(detail.cluster) ?? 0) + 1);
    if (tally.logged < this.#limits.immediateLines) {
      tally.logged += 1;
      this.#log.warn(
        {
          remote: address,
          ...(detail.cluster !== undefined ? { cluster: detail.cluster } : {}),
          reason: detail.reason,
          failures: record.failures,
          ...(refusing ? { refusedForS: Math.round(this.#limits.refuseForMs / 1000) } : {}),
        },
        'Agent rejected',
      );
    }
  }

  /** Log what the current interval saw beyond its immediate lines, and start a new one. */
  flush(): void {
    const tally = this.#tally;
    this.#tally = newTally();
    const unlogged = tally.failures - tally.logged;
    if (unlogged <= 0 && tally.delayed === 0 && tally.refused === 0) return;
    this.#log.warn(
      {
        intervalS: Math.round(this.#limits.summaryIntervalMs / 1000),
        failures: tally.failures,
        notLoggedSingly: unlogged,
        delayed: tally.delayed,
        refused: tally.refused,
        addresses: tally.byAddress.size,
        top: top(tally.byAddress),
        ...(tally.byCluster.size > 0 ? { clusters: top(tally.byCluster) } : {}),
        tracked: this.#table.size,
      },
      'Failed agent authentications (summary)',
    );
  }

  get stats(): AuthThrottleStats {
    return { ...this.#totals, tracked: this.#table.size };
  }

  /** Stop the interval timer, logging what is left. */
  stop(): void {
    this.#stopTimer();
    this.flush();
  }

  /** The record of `key`, or undefined once forgotten (dropping it then). */
  #fresh(key: string): AddressRecord | undefined {
    const record = this.#table.get(key);
    if (!record) return undefined;
    const now = this.#now();
    if (record.refusedUntil <= now && now - record.lastFailureAt >= this.#limits.forgetAfterMs) {
      this.#table.delete(key);
      return undefined;
    }
    return record;
  }

  /** Mark as most recently seen; evict the least recently seen beyond the cap. */
  #touch(key: string, record: AddressRecord): void {
    this.#table.delete(key);
    this.#table.set(key, record);
    while (this.#table.size > this.#limits.maxAddresses) {
      const oldest = this.#table.keys().next().value;
      if (oldest === undefined) break;
      this.#table.delete(oldest);
    }
  }

  #count(action: 'delayed' | 'refused', key: string): void {
    this.#totals[action] += 1;
    this.#tally[action] += 1;
    this.#tally.byAddress.set(key, (this.#tally.byAddress.get(key) ?? 0) + 1);
    this.#counters?.throttled.inc({ action });
  }
}

function newTally(): IntervalTally {
  return { failures: 0, delayed: 0, refused: 0, logged: 0, byAddress: new Map(), byCluster: new Map() };
}

/** The three biggest entries, "key (n)". */
function top(counts: ReadonlyMap<string, number>): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([key, n]) => `${key} (${n})`)
    .join(', ');
}

/**
 * The key an address is throttled under: IPv4 as is (also when mapped into IPv6),
 * IPv6 by its /64 prefix, anything else as given.
 */
export function throttleKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
