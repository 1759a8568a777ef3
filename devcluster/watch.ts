/**
 * Watch streams: HTTP 200, chunked, one `{"type","object"}` JSON per line, headers
 * flushed at once. Resumes after a resourceVersion from the store's history;
 * `""`/`"0"` replays current state as ADDED; a resourceVersion older than the
 * history gets an ERROR event with a 410 Expired Status and the stream ends.
 */
import type { ServerResponse } from 'node:http';
import type { Json, JsonObject, KubeObject } from './types.js';
import { errors } from './types.js';
import type { Store, StoreEvent } from './store.js';
import type { Selector } from './selectors.js';

export interface WatchSpec {
  key: string;
  /** only objects in this namespace (undefined: all) */
  namespace: string | undefined;
  match: Selector;
  resourceVersion: string | undefined;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  bookmarkIntervalMs: number;
  timeoutSeconds: number | undefined;
  /** the object as the client wants it (version, Table, ...) */
  render: (obj: KubeObject) => Json;
  /** a bookmark's object: kind/apiVersion of the watched type with only a resourceVersion */
  bookmark: (rv: string, initialEventsEnd: boolean) => Json;
}

/** Writes above this many buffered bytes mean a stuck client: end its watch, as kube-apiserver does. */
const MAX_BUFFERED = 16 * 1024 * 1024;

export class WatchStream {
  private ended = false;
  private unsubscribe: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly store: Store,
    private readonly spec: WatchSpec,
    private readonly onEnd: (w: WatchStream) => void,
  ) {}

  /** Validate the resourceVersion; throws a 400 before any byte is written. */
  static parseRv(rv: string | undefined): number | undefined {
    if (rv === undefined || rv === '' || rv === '0') return undefined;
    if (!/^\d+$/.test(rv)) throw errors.badRequest(`invalid resource version: ${rv}`);
    return Number(rv);
  }

  start(): void {
    const { res, spec, store } = this;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    res.on('close', () => this.end());
    const from = WatchStream.parseRv(spec.resourceVersion);
    if (from !== undefined && !spec.sendInitialEvents) {
      const past = store.since(spec.key, from);
      if (!past) {
        // The ERROR follows the flushed headers in a later write, as it would over a network.
        const message = `too old resource version: ${from} (${store.oldestResumableRv() + 1})`;
        setImmediate(() => this.expire(message));
        return;
      }
      this.unsubscribe = store.subscribe((ev) => this.onEvent(ev));
      for (const ev of past) this.onEvent(ev);
    } else {
      // Subscribe before reading the state: nothing happens in between (one thread).
      this.unsubscribe = store.subscribe((ev) => this.onEvent(ev));
      for (const obj of store.list(spec.key, spec.namespace)) if (spec.match(obj)) this.send('ADDED', obj);
      if (spec.sendInitialEvents) this.write({ type: 'BOOKMARK', object: spec.bookmark(String(store.currentRv()), true) });
    }
    if (spec.allowBookmarks) {
      const t = setInterval(() => this.write({ type: 'BOOKMARK', object: spec.bookmark(String(store.currentRv()), false) }), spec.bookmarkIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    if (spec.timeoutSeconds !== undefined && spec.timeoutSeconds > 0) {
      const t = setTimeout(() => this.end(), spec.timeoutSeconds * 1000);
      t.unref();
      this.timers.push(t);
    }
  }

  private inScope(obj: KubeObject | undefined): obj is KubeObject {
    return obj !== undefined && (this.spec.namespace === undefined || (obj.metadata.namespace ?? '') === this.spec.namespace);
  }

  private onEvent(ev: StoreEvent): void {
    if (ev.key !== this.spec.key) return;
    const m = (o: KubeObject | undefined): boolean => this.inScope(o) && this.spec.match(o);
    switch (ev.type) {
      case 'ADDED':
        if (m(ev.object)) this.send('ADDED', ev.object);
        break;
      case 'DELETED':
        if (m(ev.old) || m(ev.object)) this.send('DELETED', ev.object);
        break;
      case 'MODIFIED': {
        // Selector transitions look like adds and deletes to the watcher, as on a real cluster.
        const now = m(ev.object);
        const before = m(ev.old);
        if (now && before) this.send('MODIFIED', ev.object);
        else if (now) this.send('ADDED', ev.object);
        else if (before) this.send('DELETED', ev.object);
        break;
      }
    }
  }

  private send(type: string, obj: KubeObject): void {
    this.write({ type, object: this.spec.render(obj) });
  }

  private write(event: JsonObject): void {
    if (this.ended) return;
    if (this.res.writableLength > MAX_BUFFERED) {
      this.end();
      return;
    }
    this.res.write(JSON.stringify(event) + '\n');
  }

  /** Send a 410 Expired ERROR event and end the stream; the client must relist. */
  expire(message = 'The resourceVersion for the provided watch is too old.'): void {
    this.write({ type: 'ERROR', object: errors.gone(message).toStatus() });
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    if (!this.res.writableEnded) this.res.end();
    this.onEnd(this);
  }
}
