/**
 * The steady request mix of a soak run: up to `rate` requests a second through random
 * clusters, at most `concurrency` in flight (a tick that would exceed it sheds, and the
 * shed requests are counted). Every request is tracked until it settles; `waitSettled()`
 * waits (bounded) for the last ones, and those that never settled are reported.
 */
import { REQUEST_KINDS, REQUEST_MIX, runRequest, type Outcome, type RequestContext, type RequestKind } from './soak-requests.js';

const TICK_MS = 20;
const SMALL_KINDS: ReadonlySet<RequestKind> = new Set(['kube-get', 'ks-get']);
/** Latency samples kept at most (a uniform reservoir beyond that). */
const MAX_SAMPLES = 200_000;

export interface KindResult {
  readonly started: number;
  readonly ok: number;
  readonly failed: Readonly<Record<string, number>>;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface LoadResult {
  readonly started: number;
  readonly ok: number;
  readonly failed: number;
  readonly failedByReason: Readonly<Record<string, number>>;
  /** Requests not started because `concurrency` were in flight. */
  readonly shed: number;
  /** Requests that had not settled when the run gave up waiting: each is a hang. */
  readonly pending: number;
  readonly pendingKinds: Readonly<Record<string, number>>;
  /** Latency of the ok small GETs (kube-get, ks-get), start to last byte. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly byKind: Readonly<Record<string, KindResult>>;
}

interface KindTally {
  started: number;
  ok: number;
  failed: Map<string, number>;
  latencies: number[];
}

export class SoakLoad {
  readonly #pending = new Map<number, RequestKind>();
  readonly #kinds = new Map<RequestKind, KindTally>(REQUEST_KINDS.map((k) => [k, { started: 0, ok: 0, failed: new Map(), latencies: [] }]));
  /** Latencies of ok small GETs: the headline p50 / p99. */
  readonly #small: number[] = [];
  #smallOk = 0;
  #shed = 0;
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #credit = 0;
  #last = 0;
  readonly #cumulative: Array<[RequestKind, number]>;

  constructor(
    private readonly options: {
      readonly rate: number;
      readonly concurrency: number;
      readonly clusters: readonly { kubePort: number; ksPort: number }[];
      readonly ctx: RequestContext;
      readonly random: () => number;
    },
  ) {
    let sum = 0;
    this.#cumulative = REQUEST_KINDS.map((k) => [k, (sum += REQUEST_MIX[k])]);
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  start(): void {
    this.#last = performance.now();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  #tick(): void {
    const now = performance.now();
    // At most one second of credit: a stalled event loop does not turn into a burst.
    this.#credit = Math.min(this.options.rate, this.#credit + ((now - this.#last) / 1000) * this.options.rate);
    this.#last = now;
    while (this.#credit >= 1) {
      this.#credit -= 1;
      if (this.#pending.size >= this.options.concurrency) {
        this.#shed += 1;
        continue;
      }
      this.#launch();
    }
  }

  #launch(): void {
    const { clusters, ctx, random } = this.options;
    const r = random() * (this.#cumulative.at(-1)?.[1] ?? 1);
    const kind = this.#cumulative.find(([, upTo]) => r < upTo)?.[0] ?? 'kube-get';
    const cluster = clusters[Math.floor(random() * clusters.length)]!;
    const id = ++this.#next;
    const tally = this.#kinds.get(kind)!;
    tally.started += 1;
    this.#pending.set(id, kind);
    void runRequest(kind, cluster, ctx, random() < 0.5).then(
      (outcome) => this.#record(id, kind, tally, outcome),
      (error: unknown) => this.#record(id, kind, tally, { ok: false, reason: `bug: ${String(error).slice(0, 60)}`, ms: 0 }),
    );
  }

  #record(id: number, kind: RequestKind, tally: KindTally, outcome: Outcome): void {
    this.#pending.delete(id);
    if (!outcome.ok) {
      tally.failed.set(outcome.reason, (tally.failed.get(outcome.reason) ?? 0) + 1);
      return;
    }
    tally.ok += 1;
    keepSample(tally.latencies, outcome.ms, tally.ok);
    if (SMALL_KINDS.has(kind)) keepSample(this.#small, outcome.ms, ++this.#smallOk);
  }

  /** Start no more requests. */
  stopStarting(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Wait up to `waitMs` for the requests in flight; those left count as pending (hung). */
  async waitSettled(waitMs: number): Promise<void> {
    const deadline = performance.now() + waitMs;
    while (this.#pending.size > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  result(): LoadResult {
    const failedByReason: Record<string, number> = {};
    const byKind: Record<string, KindResult> = {};
    let started = 0;
    let ok = 0;
    for (const [kind, t] of this.#kinds) {
      started += t.started;
      ok += t.ok;
      for (const [reason, n] of t.failed) failedByReason[reason] = (failedByReason[reason] ?? 0) + n;
      const sorted = [...t.latencies].sort((a, b) => a - b);
      byKind[kind] = { started: t.started, ok: t.ok, failed: Object.fromEntries(t.failed), p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
    }
    const pendingKinds: Record<string, number> = {};
    for (const kind of this.#pending.values()) pendingKinds[kind] = (pendingKinds[kind] ?? 0) + 1;
    const small = [...this.#small].sort((a, b) => a - b);
    return {
      started,
      ok,
      failed: Object.values(failedByReason).reduce((a, b) => a + b, 0),
      failedByReason,
      shed: this.#shed,
      pending: this.#pending.size,
      pendingKinds,
      p50Ms: percentile(small, 0.5),
      p99Ms: percentile(small, 0.99),
      byKind,
    };
  }
}

/** Reservoir sampling: every one of the `seen` values had the same chance to be kept. */
function keepSample(samples: number[], value: number, seen: number): void {
  if (samples.length < MAX_SAMPLES) return void samples.push(value);
  const at = Math.floor(Math.random() * seen);
  if (at < MAX_SAMPLES) samples[at] = value;
}

export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
