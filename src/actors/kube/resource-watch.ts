/**
 * One watched Kubernetes collection, as client-node's ListWatch: the resource-watch
 * machine with its I/O (list, then stream newline-delimited JSON watch events over a
 * KubeClient) and the cache it keeps — the freshest copy of every object, which writers
 * update through `store` with the objects the API server answered their writes with.
 */
import { createActor, type InspectionEvent } from 'xstate';
import type { KubeClient } from '../../kube/kube-client.js';
import type { Logger } from '../../log.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../../machines/backoff.js';
import {
  resourceWatchMachine,
  type Delivery,
  type KubeObject,
  type ResourceWatchEvent,
  type ResourceWatchIo,
} from '../../machines/resource-watch.js';

export interface ResourceWatchOptions {
  readonly client: KubeClient;
  /** Collection path, e.g. `/apis/cluster.kubesphere.io/v1alpha1/clusters`. */
  readonly path: string;
  readonly resource: string;
  /** Told after the cache took each delivery. */
  readonly onDelivery: (delivery: Delivery) => void;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** Server-side watch timeout; the stream is re-opened after it. */
  readonly watchTimeoutSeconds?: number;
  readonly inspect?: (event: InspectionEvent) => void;
  /** Called each time the view is rebuilt by a new list (410 Expired, errors). */
  readonly onRelist?: () => void;
}

/** Largest single watch line accepted (a Cluster with a kubeconfig is a few KiB). */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** What the cache needs of an object. */
export interface Named {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string };
}

export class WatchedCollection<T extends Named = KubeObject> {
  readonly actor;
  readonly #cache = new Map<string, T>();
  #synced = false;

  constructor(private readonly options: ResourceWatchOptions) {
    const { client, path, logger } = options;
    const io: ResourceWatchIo = {
      list: async () => {
        const list = await client.json<{ metadata: { resourceVersion: string }; items: KubeObject[] }>({ method: 'GET', path });
        return { resourceVersion: list.metadata.resourceVersion, items: list.items ?? [] };
      },
      watch: (resourceVersion, sendBack) => watchStream(options, resourceVersion, sendBack),
      deliver: (delivery) => this.#take(delivery),
    };
    this.actor = createActor(resourceWatchMachine, {
      id: `watch:${options.resource}`,
      input: { resource: options.resource, backoff: options.backoff ?? { ...DEFAULT_BACKOFF, maxMs: 30_000 }, io },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    let previous = '';
    this.actor.subscribe((snapshot) => {
      const state = String(snapshot.value);
      if (state === previous) return;
      if (state === 'backoff') logger.warn({ resource: options.resource, error: snapshot.context.lastError }, 'Watch failed; retrying');
      if (state === 'listing' && previous === 'watching') logger.info({ resource: options.resource }, 'Watch expired (410); listing again');
      if (state === 'listing' && previous !== '') options.onRelist?.();
      previous = state;
    });
    this.actor.start();
  }

  /** True once the first list arrived. */
  get synced(): boolean {
    return this.#synced;
  }

  get(name: string): T | undefined {
    return this.#cache.get(name);
  }

  values(): IterableIterator<T> {
    return this.#cache.values();
  }

  /** An object the API server answered a write with: kept unless the cache already has a newer one. */
  store(object: T): void {
    if (isNewer(object, this.#cache.get(object.metadata.name))) this.#cache.set(object.metadata.name, object);
  }

  /** The object was deleted by us. */
  forget(name: string): void {
    this.#cache.delete(name);
  }

  stop(): void {
    this.actor.send({ type: 'stop' });
    this.actor.stop();
  }

  #take(delivery: Delivery): void {
    if (delivery.type === 'sync') {
      this.#cache.clear();
      for (const item of delivery.items) this.#cache.set(item.metadata.name, item as unknown as T);
      this.#synced = true;
    } else if (delivery.type === 'DELETED') {
      this.#cache.delete(delivery.object.metadata.name);
    } else {
      this.store(delivery.object as unknown as T);
    }
    this.options.onDelivery(delivery);
  }

  /** Inspectors serialize actor input; a watch is named, not dumped. */
  toJSON(): string {
    return `WatchedCollection ${this.options.resource}`;
  }
}

/** Start watching (the first list comes asynchronously; see `synced`). */
export function startResourceWatch<T extends Named = KubeObject>(options: ResourceWatchOptions): WatchedCollection<T> {
  return new WatchedCollection<T>(options);
}

/** Newer by resourceVersion (opaque strings that are integers in every real apiserver). */
function isNewer(incoming: Named, cached: Named | undefined): boolean {
  const a = Number(incoming.metadata.resourceVersion);
  const b = Number(cached?.metadata.resourceVersion);
  return !cached || !Number.isFinite(a) || !Number.isFinite(b) || a >= b;
}

/** One watch request: its events go to `sendBack` until it ends; returns a stop function. */
function watchStream(
  options: ResourceWatchOptions,
  resourceVersion: string | undefined,
  sendBack: (event: ResourceWatchEvent) => void,
): () => void {
  const { client, path } = options;
  let closed = false;
  let destroy: (() => void) | undefined;
  const query = new URLSearchParams({
    watch: '1',
    allowWatchBookmarks: 'true',
    timeoutSeconds: String(options.watchTimeoutSeconds ?? 300),
    ...(resourceVersion ? { resourceVersion: resourceVersion } : {}),
  });
  const finish = (event: ResourceWatchEvent) => {
    if (closed) return;
    closed = true;
    destroy?.();
    sendBack(event);
  };
  client.stream(`${path}?${query}`).then(
    (res) => {
      if (closed) return void res.destroy();
      destroy = () => res.destroy();
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        if (buffered.length > MAX_LINE_BYTES) return finish({ type: 'watch.failed', error: 'watch event over 4 MiB' });
        let newline: number;
        while (!closed && (newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) handleLine(line);
        }
      });
      res.on('end', () => finish({ type: 'watch.ended' }));
      res.on('error', (error) => finish({ type: 'watch.failed', error: error.message }));
    },
    (error: Error & { code?: number }) =>
      finish(error.code === 410 ? { type: 'watch.expired' } : { type: 'watch.failed', error: error.message }),
  );
  function handleLine(line: string) {
    let event: { type?: string; object?: KubeObject & { code?: number; message?: string } };
    try {
      event = JSON.parse(line);
    } catch {
      return finish({ type: 'watch.failed', error: 'watch sent a line that is not JSON' });
    }
    const object = event.object;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        if (object?.metadata?.name) sendBack({ type: 'watch.event', eventType: event.type, object });
        return;
      case 'BOOKMARK':
        if (object?.metadata?.resourceVersion) sendBack({ type: 'watch.bookmark', resourceVersion: object.metadata.resourceVersion });
        return;
      case 'ERROR':
        return finish(object?.code === 410 ? { type: 'watch.expired' } : { type: 'watch.failed', error: object?.message ?? 'watch error' });
      default:
        return finish({ type: 'watch.failed', error: `unknown watch event type ${String(event.type)}` });
    }
  }
  return () => {
    closed = true;
    destroy?.();
  };
}
