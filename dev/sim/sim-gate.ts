/**
 * A cap on handshakes in flight: a simulated fleet can open a thousand connections in one
 * tick, which measures the kernel's accept queue rather than the proxy. Limit 0 = none.
 */
export class SimGate {
  #inFlight = 0;
  readonly #queue: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Run `start` when a slot is free; it gets the release. Returns a cancel for a queued entry. */
  enter(start: (release: () => void) => void): () => void {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#inFlight -= 1;
      this.#queue.shift()?.();
    };
    const go = () => {
      this.#inFlight += 1;
      start(release);
    };
    if (this.limit === 0 || this.#inFlight < this.limit) {
      go();
      return () => {};
    }
    this.#queue.push(go);
    return () => {
      const at = this.#queue.indexOf(go);
      if (at >= 0) this.#queue.splice(at, 1);
    };
  }

  get inFlight(): number {
    return this.#inFlight;
  }
}
