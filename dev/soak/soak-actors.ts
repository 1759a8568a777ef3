/**
 * Counts xstate actors from inspection events: `@xstate.actor` when one is created, a
 * `@xstate.snapshot` with status done / error / stopped when it ends. What is left at the
 * end of a run are actors nobody stopped. Also tallies why proxy sessions ended.
 */
import type { InspectionEvent } from 'xstate';

const ENDED = new Set(['done', 'error', 'stopped']);
/** Live actors listed by id in the report, at most. */
const MAX_LISTED = 20;

export interface ActorCounts {
  readonly created: number;
  readonly ended: number;
  readonly live: number;
  /** Created, by kind (the id's prefix before `:` or `/`, or the logic's id). */
  readonly createdByKind: Readonly<Record<string, number>>;
  /** Live by kind, and the first few live ids. */
  readonly liveByKind: Readonly<Record<string, number>>;
  readonly liveIds: readonly string[];
}

export class ActorTracker {
  #created = 0;
  #ended = 0;
  readonly #live = new Map<string, string>();
  readonly #createdByKind = new Map<string, number>();
  readonly #sessionEnds = new Map<string, number>();

  readonly inspect = (event: InspectionEvent): void => {
    if (event.type === '@xstate.actor') {
      const id = actorId(event.actorRef);
      this.#created += 1;
      this.#live.set(event.actorRef.sessionId, id);
      const kind = kindOf(id);
      this.#createdByKind.set(kind, (this.#createdByKind.get(kind) ?? 0) + 1);
      return;
    }
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as { status?: string; context?: { reason?: unknown } };
    if (!snapshot.status || !ENDED.has(snapshot.status)) return;
    const sessionId = event.actorRef.sessionId;
    if (!this.#live.delete(sessionId)) return;
    this.#ended += 1;
    const id = actorId(event.actorRef);
    if (id.startsWith('session:') && snapshot.status === 'done') {
      const reason = sessionEndReason(typeof snapshot.context?.reason === 'string' ? snapshot.context.reason : 'closed');
      this.#sessionEnds.set(reason, (this.#sessionEnds.get(reason) ?? 0) + 1);
    }
  };

  get live(): number {
    return this.#live.size;
  }

  /** Proxy sessions that ended, by reason (classified). */
  sessionEnds(): Record<string, number> {
    return Object.fromEntries(this.#sessionEnds);
  }

  counts(): ActorCounts {
    const liveByKind = new Map<string, number>();
    for (const id of this.#live.values()) liveByKind.set(kindOf(id), (liveByKind.get(kindOf(id)) ?? 0) + 1);
    return {
      created: this.#created,
      ended: this.#ended,
      live: this.#live.size,
      createdByKind: Object.fromEntries(this.#createdByKind),
      liveByKind: Object.fromEntries(liveByKind),
      liveIds: [...this.#live.values()].slice(0, MAX_LISTED),
    };
  }
}

/** The actor's id (the inspection type only promises a session id). */
function actorId(ref: { sessionId: string }): string {
  const id = (ref as { id?: unknown }).id;
  return typeof id === 'string' ? id : ref.sessionId;
}

/** `session:s12` → session, `s12/ch-3` → channel, `gateway:alpha` → gateway, `x:0:1` → x. */
function kindOf(id: string): string {
  if (/\/ch-\d+$/.test(id)) return 'channel';
  const colon = id.indexOf(':');
  return colon > 0 ? id.slice(0, colon) : id;
}

/** A countable reason: no cluster names, addresses or numbers. */
export function sessionEndReason(reason: string): string {
  if (/keepalive/i.test(reason)) return 'keepalive timeout';
  return reason
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+(\.\d+)*(:\d+)?/g, 'N')
    .slice(0, 80);
}
