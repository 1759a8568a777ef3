/**
 * Kubernetes Events about Cluster objects, for `kubectl describe cluster`: agents coming
 * and going, rejected tokens, port problems, kubeconfigs issued, the CA expiring. As
 * client-go's recorder: in namespace `default` (Clusters are cluster-scoped), the same
 * event repeated within `aggregateMs` is counted on the existing Event (at most one PATCH
 * per `minWriteIntervalMs`), and a token bucket bounds the writes of a storm (a
 * token-guessing flood must not become an API write flood). Messages never hold a secret.
 * Writing Events is best effort: a failure is logged once, never retried.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CLUSTER_GROUP, CLUSTER_VERSION } from '../../kube/cluster-types.js';
import type { KubeClient } from '../../kube/kube-client.js';
import type { Logger } from '../../log.js';
import { errorMessage } from '../../errors.js';

export const EVENTS_NAMESPACE = 'default';
const EVENTS_PATH = `/api/v1/namespaces/${EVENTS_NAMESPACE}/events`;

export interface ClusterEvent {
  readonly cluster: string;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface ClusterEventsOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  /** The Cluster's uid, when it is known. */
  readonly uidOf: (cluster: string) => string | undefined;
  /** Told of every Event write. */
  readonly counted?: (cluster: string, reason: string) => void;
  /** Told of every Event dropped by the rate limit. */
  readonly dropped?: () => void;
  readonly now?: () => number;
}

/** The limits of the recorder (named, with their defaults). */
export const EVENT_LIMITS = {
  /** The same event within this time is counted on one Event object. */
  aggregateMs: 10 * 60_000,
  /** At most one write per repeated event in this time; repeats in between are counted locally. */
  minWriteIntervalMs: 60_000,
  /** Event writes in a burst, and their refill rate. */
  burst: 25,
  perSecond: 1,
  /** Distinct events remembered for aggregation. */
  remembered: 1024,
};

interface Seen {
  readonly name: string;
  count: number;
  lastWriteAt: number;
}

export class ClusterEvents {
  readonly #options: ClusterEventsOptions;
  readonly #seen = new Map<string, Seen>();
  readonly #now: () => number;
  #tokens = EVENT_LIMITS.burst;
  #refilledAt: number;
  #failureLogged = false;

  constructor(options: ClusterEventsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#refilledAt = this.#now();
  }

  record(event: ClusterEvent): void {
    const now = this.#now();
    const key = `${event.cluster}\n${event.type}\n${event.reason}\n${event.message}`;
    let seen = this.#seen.get(key);
    if (seen && now - seen.lastWriteAt > EVENT_LIMITS.aggregateMs) {
      this.#seen.delete(key);
      seen = undefined;
    }
    if (seen) {
      seen.count += 1;
      if (now - seen.lastWriteAt < EVENT_LIMITS.minWriteIntervalMs || !this.#take(now)) return;
      seen.lastWriteAt = now;
      const count = seen.count;
      this.#write(event.cluster, event.reason, {
        method: 'PATCH',
        path: `${EVENTS_PATH}/${seen.name}`,
        body: { count, lastTimestamp: new Date(now).toISOString() },
      });
      return;
    }
    if (!this.#take(now)) return;
    const time = new Date(now).toISOString();
    const created: Seen = { name: `${event.cluster}.${randomBytes(8).toString('hex')}`, count: 1, lastWriteAt: now };
    this.#seen.set(key, created);
    if (this.#seen.size > EVENT_LIMITS.remembered) this.#seen.delete(this.#seen.keys().next().value!);
    const uid = this.#options.uidOf(event.cluster);
    this.#write(event.cluster, event.reason, {
      method: 'POST',
      path: EVENTS_PATH,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: created.name, namespace: EVENTS_NAMESPACE },
        involvedObject: { apiVersion: `${CLUSTER_GROUP}/${CLUSTER_VERSION}`, kind: 'Cluster', name: event.cluster, ...(uid ? { uid } : {}) },
        type: event.type,
        reason: event.reason,
        message: event.message,
        source: { component: 'tower-proxy', host: hostname() },
        reportingComponent: 'tower-proxy',
        reportingInstance: hostname(),
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      },
    });
  }

  /** A token from the bucket, refilled by elapsed time. */
  #take(now: number): boolean {
    this.#tokens = Math.min(EVENT_LIMITS.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * EVENT_LIMITS.perSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.#options.dropped?.();
      return false;
    }
    this.#tokens -= 1;
    return true;
  }

  #write(cluster: string, reason: string, request: { method: 'POST' | 'PATCH'; path: string; body: unknown }): void {
    this.#options.counted?.(cluster, reason);
    this.#options.client.json(request).catch((error: unknown) => {
      if (this.#failureLogged) return;
      this.#failureLogged = true;
      this.#options.logger.warn({ error: errorMessage(error) }, 'Cannot write Kubernetes Events (needs create/patch on events in namespace default); continuing without them');
    });
  }
}
