/**
 * Await what a ClusterSource or its logger does next, with a bounded wait that fails the
 * test instead of hanging it.
 */
import type { ClusterSource, ClusterSourceEvent } from '../../src/cluster-sources/cluster-source.js';
import type { ClusterFileLogger } from '../../src/cluster-sources/cluster-file.js';

export const WAIT_MS = 5000;

/** A FIFO of things that arrive over time; `next()` waits at most `timeoutMs`. */
export class Arrivals<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(item: T) => void> = [];

  constructor(private readonly what: string) {}

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /** Items that arrived and were not taken yet. */
  get queued(): readonly T[] {
    return this.items;
  }

  next(timeoutMs = WAIT_MS): Promise<T> {
    const ready = this.items.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise<T>((resolve, reject) => {
      const waiter = (item: T): void => {
        clearTimeout(timer);
        resolve(item);
      };
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new Error(`no ${this.what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async take(count: number, timeoutMs = WAIT_MS): Promise<T[]> {
    const taken: T[] = [];
    for (let i = 0; i < count; i++) taken.push(await this.next(timeoutMs));
    return taken;
  }
}

export function recordEvents(source: ClusterSource): Arrivals<ClusterSourceEvent> {
  const events = new Arrivals<ClusterSourceEvent>('cluster source event');
  source.subscribe((event) => events.push(event));
  return events;
}

export interface RecordingLogger {
  readonly logger: ClusterFileLogger;
  readonly warns: Arrivals<string>;
  readonly infos: Arrivals<string>;
  readonly debugs: Arrivals<string>;
  /** Every call as JSON (fields and message), to check that no token reaches a log. */
  readonly lines: readonly string[];
}

export function recordingLogger(): RecordingLogger {
  const warns = new Arrivals<string>('warn log line');
  const infos = new Arrivals<string>('info log line');
  const debugs = new Arrivals<string>('debug log line');
  const lines: string[] = [];
  const record = (to: Arrivals<string>) => (obj: object, msg: string): void => {
    lines.push(JSON.stringify({ ...obj, msg }));
    to.push(msg);
  };
  return {
    warns,
    infos,
    debugs,
    lines,
    logger: { warn: record(warns), info: record(infos), debug: record(debugs) },
  };
}
