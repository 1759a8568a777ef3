/**
 * The in-memory object store: every object by group-resource, namespace and name,
 * one global resourceVersion counter, and a bounded history of change events that
 * watches resume from. It knows nothing of HTTP or of kind-specific rules.
 */
import type { KubeObject } from './types.js';
import { clone } from './types.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  /** the resourceVersion this change produced */
  rv: number;
  /** group/plural of the object */
  key: string;
  object: KubeObject;
  /** the object before a MODIFIED or DELETED change */
  old?: KubeObject;
}

export type Listener = (ev: StoreEvent) => void;

function nameKey(ns: string | undefined, name: string): string {
  return `${ns ?? ''}/${name}`;
}

export class Store {
  private rv = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  /** events with rv <= compactedRv are no longer in the history */
  private compactedRv = 0;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly historySize: number) {}

  currentRv(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch may still resume after. */
  oldestResumableRv(): number {
    return this.compactedRv;
  }

  /** A new resourceVersion for a write; also used by bookmarks-free reads. */
  private next(): number {
    this.rv += 1;
    return this.rv;
  }

  get(key: string, ns: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(key)?.get(nameKey(ns, name));
  }

  /** Objects of a group-resource, in one namespace or all; sorted by namespace then name. */
  list(key: string, ns?: string): KubeObject[] {
    const all = [...(this.objects.get(key)?.values() ?? [])];
    const picked = ns === undefined ? all : all.filter((o) => (o.metadata.namespace ?? '') === ns);
    return picked.sort((a, b) =>
      nameKey(a.metadata.namespace, a.metadata.name ?? '').localeCompare(nameKey(b.metadata.namespace, b.metadata.name ?? '')),
    );
  }

  /** Store a new or changed object under a fresh resourceVersion and tell the watchers. */
  put(key: string, obj: KubeObject): KubeObject {
    const name = obj.metadata.name ?? '';
    const bucket = this.objects.get(key) ?? new Map<string, KubeObject>();
    this.objects.set(key, bucket);
    const old = bucket.get(nameKey(obj.metadata.namespace, name));
    const rv = this.next();
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(rv);
    bucket.set(nameKey(stored.metadata.namespace, name), stored);
    this.emit(old ? { type: 'MODIFIED', rv, key, object: stored, old } : { type: 'ADDED', rv, key, object: stored });
    return clone(stored);
  }

  /** Remove an object (`obj` is its final content); the DELETED event carries a fresh resourceVersion, as etcd does. */
  remove(key: string, obj: KubeObject): KubeObject | undefined {
    const bucket = this.objects.get(key);
    const k = nameKey(obj.metadata.namespace, obj.metadata.name ?? '');
    const old = bucket?.get(k);
    if (!bucket || !old) return undefined;
    bucket.delete(k);
    const rv = this.next();
    const gone = clone(obj);
    gone.metadata.resourceVersion = String(rv);
    this.emit({ type: 'DELETED', rv, key, object: gone, old });
    return clone(gone);
  }

  /** History events after `rv` for one group-resource, or undefined if that is too old. */
  since(key: string, rv: number): StoreEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.history.filter((e) => e.rv > rv && e.key === key);
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Forget the whole history, as an etcd compaction would: every older resume gets 410. */
  compact(): void {
    this.history.length = 0;
    this.compactedRv = this.rv;
  }

  private emit(ev: StoreEvent): void {
    this.history.push(ev);
    while (this.history.length > this.historySize) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRv = dropped.rv;
    }
    // One failing listener (a watch that cannot render, say) must not stop the others.
    for (const l of [...this.listeners]) {
      try {
        l(ev);
      } catch {
        // the listener's own problem; the write itself succeeded
      }
    }
  }
}
