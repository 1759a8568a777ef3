/**
 * Log a repeating trouble (channels refused, a target that cannot be dialled) without a
 * line each: the first one of a spell at once, then at most one line per interval with
 * how many more there were. A quiet interval ends the spell.
 */
import type { Logger } from '../../log.js';

/** Runs `fn` once after `ms` unless the returned function is called first. */
export type After = (ms: number, fn: () => void) => () => void;

const defaultAfter: After = (ms, fn) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

export interface SpellMessages {
  /** Logged with `{ reason }` when a spell starts. */
  readonly first: string;
  /** Logged with `{ count, intervalS, lastReason }` for the ones after it. */
  readonly more: string;
}

export class SpellLog {
  #count = 0;
  #lastReason = '';
  #cancel: (() => void) | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly messages: SpellMessages,
    private readonly after: After = defaultAfter,
  ) {}

  note(reason: string): void {
    this.#lastReason = reason;
    if (this.#cancel) {
      this.#count += 1;
      return;
    }
    this.logger.warn({ reason }, this.messages.first);
    this.#arm();
  }

  /** Log what is pending and end the spell (the session ended). */
  flush(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#summarize();
  }

  #arm(): void {
    this.#cancel = this.after(this.intervalMs, () => {
      this.#cancel = undefined;
      if (this.#summarize()) this.#arm();
    });
  }

  /** Returns whether there was anything to say. */
  #summarize(): boolean {
    if (this.#count === 0) return false;
    this.logger.warn({ count: this.#count, intervalS: this.intervalMs / 1000, lastReason: this.#lastReason }, this.messages.more);
    this.#count = 0;
    return true;
  }
}
