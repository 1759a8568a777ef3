/**
 * Keep an up-to-date view of one Kubernetes collection (Cluster objects, mc-* Services):
 *
 * listing → watching ⇄ (re-watch when the server ends the stream)
 *    ↑ 410 Expired ┘         ↘ error → backoff → listing
 *
 * The io's `list` returns every item and the collection's resourceVersion; its `watch`
 * streams changes from that resourceVersion. Results reach the owner through the io's
 * `deliver`, as a full `sync` after each list and single changes after.
 */
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import { errorMessage } from '../errors.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly uid?: string;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

export interface ListResult {
  readonly resourceVersion: string;
  readonly items: readonly KubeObject[];
}

export type Delivery =
  | { readonly type: 'sync'; readonly items: readonly KubeObject[] }
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: KubeObject };

/** The I/O of one watch, given by the actor layer. */
export interface ResourceWatchIo {
  list(): Promise<ListResult>;
  /** Stream changes from `resourceVersion`, reporting them with `sendBack`; returns a stop function. */
  watch(resourceVersion: string | undefined, sendBack: (event: ResourceWatchEvent) => void): () => void;
  /** The owner's view: a full `sync` after each list, single changes after. */
  deliver(delivery: Delivery): void;
}

export interface ResourceWatchInput {
  /** What is watched, for logs and the inspector (e.g. `clusters.cluster.kubesphere.io`). */
  readonly resource: string;
  readonly backoff: BackoffOptions;
  readonly io: ResourceWatchIo;
}

export interface ResourceWatchContext extends ResourceWatchInput {
  readonly resourceVersion: string | undefined;
  readonly failures: number;
  readonly lastError: string | undefined;
  /** Lists after the first (410 Expired, errors): how often the view was rebuilt. */
  readonly relists: number;
}

export type ResourceWatchEvent =
  | { type: 'watch.event'; eventType: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }
  | { type: 'watch.bookmark'; resourceVersion: string }
  /** 410 Gone/Expired: the resourceVersion is too old; list again. */
  | { type: 'watch.expired' }
  /** The server closed the stream normally (timeouts do this): watch again. */
  | { type: 'watch.ended' }
  | { type: 'watch.failed'; error: string }
  | { type: 'stop' };

export const resourceWatchMachine = setup({
  types: {
    input: {} as ResourceWatchInput,
    context: {} as ResourceWatchContext,
    events: {} as ResourceWatchEvent,
  },
  actors: {
    list: fromPromise<ListResult, { io: ResourceWatchIo }>(({ input }) => input.io.list()),
    watch: fromCallback<ResourceWatchEvent, { io: ResourceWatchIo; resourceVersion: string | undefined }, ResourceWatchEvent>(
      ({ input, sendBack }) => input.io.watch(input.resourceVersion, sendBack),
    ),
  },
  delays: {
    retryDelay: ({ context }) => backoffDelay(context.failures, context.backoff),
  },
  actions: {
    deliver: ({ context }, params: Delivery) => context.io.deliver(params),
    recordFailure: assign({
      failures: ({ context }) => context.failures + 1,
      lastError: (_, params: { error: string }) => params.error,
    }),
  },
}).createMachine({
  id: 'resourceWatch',
  context: ({ input }) => ({ ...input, resourceVersion: undefined, failures: 0, lastError: undefined, relists: 0 }),
  initial: 'listing',
  on: { stop: '.stopped' },
  states: {
    listing: {
      invoke: {
        src: 'list',
        input: ({ context }) => ({ io: context.io }),
        onDone: {
          target: 'watching',
          actions: [
            assign({
              resourceVersion: ({ event }) => event.output.resourceVersion,
              failures: 0,
              lastError: undefined,
            }),
            { type: 'deliver', params: ({ event }) => ({ type: 'sync', items: event.output.items }) },
          ],
        },
        onError: {
          target: 'backoff',
          actions: { type: 'recordFailure', params: ({ event }) => ({ error: errorMessage(event.error) }) },
        },
      },
    },
    watching: {
      invoke: {
        src: 'watch',
        input: ({ context }) => ({ io: context.io, resourceVersion: context.resourceVersion }),
      },
      on: {
        'watch.event': {
          actions: [
            assign({ resourceVersion: ({ context, event }) => event.object.metadata.resourceVersion ?? context.resourceVersion }),
            { type: 'deliver', params: ({ event }) => ({ type: event.eventType, object: event.object }) },
          ],
        },
        'watch.bookmark': { actions: assign({ resourceVersion: ({ event }) => event.resourceVersion }) },
        'watch.expired': { target: 'listing', actions: assign({ relists: ({ context }) => context.relists + 1 }) },
        'watch.ended': { target: 'watching', reenter: true },
        'watch.failed': {
          target: 'backoff',
          actions: { type: 'recordFailure', params: ({ event }) => ({ error: event.error }) },
        },
      },
    },
    backoff: {
      after: {
        retryDelay: { target: 'listing', actions: assign({ relists: ({ context }) => context.relists + 1 }) },
      },
    },
    stopped: { type: 'final' },
  },
});
