/**
 * Reconcile requests by key, one at a time, coalesced: a key asked for while it waits is
 * queued once; asked for while it runs, it runs again after. A failed key is retried
 * with a capped exponential delay.
 */
import { backoffDelay, type BackoffOptions } from '../../machines/backoff.js';

export class WorkQueue {
  readonly #pending = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #running = false;
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  constructor(
    private readonly work: (key: string) => Promise<void>,
    private readonly onError: (key: string, error: unknown, retryInMs: number) => void,
    private readonly backoff: BackoffOptions = { minMs: 200, maxMs: 30_000, factor: 2 },
  ) {}

  add(key: string): void {
    if (this.#closed) return;
    this.#pending.add(key);
    void this.#drain();
  }

  /** Resolves when nothing is queued or running (retries waiting on a timer do not count). */
  idle(): Promise<void> {
    if (!this.#running && this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    while (!this.#closed && this.#pending.size > 0) {
      const key = this.#pending.values().next().value as string;
      this.#pending.delete(key);
      clearTimeout(this.#timers.get(key));
      this.#timers.delete(key);
      try {
        await this.work(key);
        this.#failures.delete(key);
      } catch (error) {
        const failures = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, failures);
        const delay = backoffDelay(failures, this.backoff);
        this.onError(key, error, delay);
        if (!this.#closed) this.#timers.set(key, setTimeout(() => this.add(key), delay));
      }
    }
    this.#running = false;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
