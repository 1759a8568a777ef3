/**
 * Kubernetes Events about Cluster objects, for `kubectl describe cluster`: agents coming
 * and going, rejected tokens, port problems, kubeconfigs issued, the CA expiring. In
 * namespace `default`, as client-go's recorder puts Events of cluster-scoped objects. A
 * repeat of the same event is counted and written again at most once per
 * `minWriteIntervalMs` (as a new Event whose count says how many it stands for), and a
 * token bucket bounds the writes of a storm: a token-guessing flood must not become an
 * API write flood. Create only, so the proxy needs no patch right. Messages never hold a
 * secret. Best effort: a failure is logged once, never retried.
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
  /** A repeat of the same event is written at most once in this time (the others counted). */
  minWriteIntervalMs: 60_000,
  /** Event writes in a burst, and their refill rate. */
  burst: 25,
  perSecond: 1,
  /** Distinct events remembered for counting repeats. */
  remembered: 1024,
};

interface Seen {
  /** Repeats since the last write. */
  unwritten: number;
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
    const seen = this.#seen.get(key);
    if (seen && now - seen.lastWriteAt < EVENT_LIMITS.minWriteIntervalMs) {
      seen.unwritten += 1;
      return;
    }
    if (!this.#take(now)) {
      if (seen) seen.unwritten += 1;
      return;
    }
    const count = (seen?.unwritten ?? 0) + 1;
    this.#seen.delete(key); // most recently written last
    this.#seen.set(key, { unwritten: 0, lastWriteAt: now });
    if (this.#seen.size > EVENT_LIMITS.remembered) this.#seen.delete(this.#seen.keys().next().value!);
    this.#write(event, count, new Date(now).toISOString());
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

  #write(event: ClusterEvent, count: number, time: string): void {
    this.#options.counted?.(event.cluster, event.reason);
    const uid = this.#options.uidOf(event.cluster);
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${event.cluster}.${randomBytes(8).toString('hex')}`, namespace: EVENTS_NAMESPACE },
      involvedObject: { apiVersion: `${CLUSTER_GROUP}/${CLUSTER_VERSION}`, kind: 'Cluster', name: event.cluster, ...(uid ? { uid } : {}) },
      type: event.type,
      reason: event.reason,
      message: event.message,
      source: { component: 'tower-proxy', host: hostname() },
      reportingComponent: 'tower-proxy',
      reportingInstance: hostname(),
      firstTimestamp: time,
      lastTimestamp: time,
      count,
    };
    this.#options.client.json({ method: 'POST', path: EVENTS_PATH, body }).catch((error: unknown) => {
      if (this.#failureLogged) return;
      this.#failureLogged = true;
      this.#options.logger.warn({ error: errorMessage(error) }, 'Cannot write Kubernetes Events (needs create on events in namespace default); continuing without them');
    });
  }
}
