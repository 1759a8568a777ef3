/** Reconnect delays: exponential (factor 1.4, as the Go tower) with jitter, capped. */

export interface BackoffOptions {
  /** First delay before jitter, ms. */
  readonly minMs: number;
  /** Cap, ms (`--max-retry-interval`). */
  readonly maxMs: number;
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 1_000, maxMs: 120_000, factor: 1.4 };

/**
 * Delay before retry number `attempt` (1-based). "Equal jitter": a uniformly random
 * point in the upper half of the exponential step, so a proxy restart does not bring
 * every agent back at the same instant, yet no agent retries much earlier than planned.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.minMs * options.factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}
