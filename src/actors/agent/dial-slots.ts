/**
 * At most `max` dials in flight; the rest wait their turn, first come first served, for
 * at most `waitMs` (or until cancelled). A burst of channel opens then holds at most `max`
 * half-open sockets, however many the proxy asks for at once.
 */
export class DialSlots {
  #busy = 0;
  readonly #queue: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly waitMs: number,
  ) {}

  /** Dials in flight and waiting (for tests and metrics). */
  get busy(): number {
    return this.#busy;
  }
  get waiting(): number {
    return this.#queue.length;
  }

  /** Run `dial` once a slot is free; the slot is given back when it settles. */
  async run<T>(signal: AbortSignal, dial: () => Promise<T>): Promise<T> {
    await this.#take(signal);
    try {
      return await dial();
    } finally {
      this.#busy -= 1;
      this.#queue.shift()?.();
    }
  }

  #take(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new Error('cancelled'));
    if (this.#busy < this.max) {
      this.#busy += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const give = () => {
        forget();
        this.#busy += 1;
        resolve();
      };
      const fail = (message: string) => {
        forget();
        const at = this.#queue.indexOf(give);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(new Error(message));
      };
      const onAbort = () => fail('cancelled');
      const timer = setTimeout(() => fail(`no dial slot within ${this.waitMs} ms (${this.max} dials in flight, --max-dials)`), this.waitMs);
      const forget = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(give);
    });
  }
}
