/**
 * The I/O of the resource-watch machine: list a collection, then stream its changes as
 * newline-delimited JSON watch events, over a KubeClient.
 */
import { createActor, fromCallback, fromPromise, type InspectionEvent } from 'xstate';
import type { KubeClient } from '../../kube/kube-client.js';
import type { Logger } from '../../log.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../../machines/backoff.js';
import {
  resourceWatchMachine,
  type Delivery,
  type KubeObject,
  type ListResult,
  type ResourceWatchEvent,
} from '../../machines/resource-watch.js';

export interface ResourceWatchOptions {
  readonly client: KubeClient;
  /** Collection path, e.g. `/apis/cluster.kubesphere.io/v1alpha1/clusters`. */
  readonly path: string;
  readonly resource: string;
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

export function startResourceWatch(options: ResourceWatchOptions) {
  const { client, path, logger } = options;
  const machine = resourceWatchMachine.provide({
    actors: {
      list: fromPromise<ListResult>(async () => {
        const list = await client.json<{ metadata: { resourceVersion: string }; items: KubeObject[] }>({ method: 'GET', path });
        return { resourceVersion: list.metadata.resourceVersion, items: list.items ?? [] };
      }),
      watch: fromCallback<ResourceWatchEvent, { resourceVersion: string | undefined }, ResourceWatchEvent>(({ input, sendBack }) => {
        let closed = false;
        let destroy: (() => void) | undefined;
        const query = new URLSearchParams({
          watch: '1',
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(options.watchTimeoutSeconds ?? 300),
          ...(input.resourceVersion ? { resourceVersion: input.resourceVersion } : {}),
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
      }),
    },
    actions: {
      deliver: (_, delivery) => options.onDelivery(delivery),
    },
  });
  const actor = createActor(machine, {
    id: `watch:${options.resource}`,
    input: { resource: options.resource, backoff: options.backoff ?? { ...DEFAULT_BACKOFF, maxMs: 30_000 } },
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  let previous = '';
  actor.subscribe((snapshot) => {
    const state = String(snapshot.value);
    if (state === previous) return;
    if (state === 'backoff') logger.warn({ resource: options.resource, error: snapshot.context.lastError }, 'Watch failed; retrying');
    if (state === 'listing' && previous === 'watching') logger.info({ resource: options.resource }, 'Watch expired (410); listing again');
    if (state === 'listing' && previous !== '') options.onRelist?.();
    previous = state;
  });
  actor.start();
  return {
    actor,
    stop: () => {
      actor.send({ type: 'stop' });
      actor.stop();
    },
  };
}
