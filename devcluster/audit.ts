/**
 * A bounded record of authorization decisions: who asked for what and whether RBAC
 * allowed it (and by which binding). Tests read it to prove which permission a program
 * used, or which request was denied when a rule was taken away — a 403 on a best-effort
 * write may not make the program fail visibly.
 */
import type { RequestAttributes } from './request-info.js';

export interface AuditRecord {
  readonly user: string;
  readonly groups: readonly string[];
  readonly attributes: RequestAttributes;
  readonly allowed: boolean;
  /** The binding that allowed it; empty when denied or for `system:masters`. */
  readonly reason: string;
  readonly time: number;
}

export class AuditLog {
  readonly #records: AuditRecord[] = [];
  readonly #listeners = new Set<(r: AuditRecord) => void>();

  constructor(private readonly limit = 20_000) {}

  add(record: AuditRecord): void {
    this.#records.push(record);
    if (this.#records.length > this.limit) this.#records.splice(0, this.#records.length - this.limit);
    for (const l of [...this.#listeners]) l(record);
  }

  /** Oldest first; the oldest are dropped past the limit. */
  records(): readonly AuditRecord[] {
    return [...this.#records];
  }

  /** Called for every new record; returns the unsubscribe function. */
  subscribe(listener: (r: AuditRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  clear(): void {
    this.#records.length = 0;
  }
}
