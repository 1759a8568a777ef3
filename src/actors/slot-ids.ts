/**
 * Child-actor ids drawn from a small reused set (`ch-0`, `ch-1`, …) instead of an ever
 * growing counter. xstate tells a parent that a child finished with an event whose type
 * carries the child's id, and caches per event type on the parent's state nodes without
 * ever dropping entries: unique ids grow that cache by one entry per channel for the
 * parent's lifetime. Reused ids keep it as small as the most channels open at once.
 */
export class SlotIds {
  readonly #free: number[] = [];
  #next = 0;

  constructor(private readonly prefix: string) {}

  take(): string {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#next++;
    return `${this.prefix}${slot}`;
  }

  release(id: string): void {
    const slot = Number(id.slice(this.prefix.length));
    if (Number.isInteger(slot) && slot >= 0 && slot < this.#next && !this.#free.includes(slot)) this.#free.push(slot);
  }
}
