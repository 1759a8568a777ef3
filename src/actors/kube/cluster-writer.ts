/**
 * Read-modify-write of Cluster objects with retries on Conflict. Status goes through
 * `/status` when the CRD declares that subresource and with the object when it does not
 * (KubeSphere's CRD has none); both are handled. Every write is counted with its reasons,
 * and its answer goes back into the watch's cache, so the next reconcile starts from it.
 */
import { KubeError, type KubeClient } from '../../kube/kube-client.js';
import { CLUSTER_GROUP, CLUSTER_VERSION, CLUSTERS_PATH, type ClusterObject } from '../../kube/cluster-types.js';

/** Attempts per write before giving up (the work queue retries later). */
const MAX_CONFLICT_RETRIES = 8;

/**
 * Changes its argument; returns why, one word per change (empty: nothing changed, nothing
 * is written).
 */
export type Mutation = (cluster: ClusterObject) => string[] | Promise<string[]>;

/** Where the freshest copies live (the Cluster watch's cache). */
export interface ClusterStore {
  get(name: string): ClusterObject | undefined;
  store(cluster: ClusterObject): void;
}

/** Told of every write made: which resource, which cluster, why. */
export type WriteCounter = (resource: 'cluster' | 'cluster-status', cluster: string, reasons: readonly string[]) => void;

export class ClusterWriter {
  #statusSubresource: boolean | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly cache: ClusterStore,
    private readonly counted: WriteCounter = () => {},
  ) {}

  /** Apply `spec` and `status` mutations to cluster `name`, retrying on Conflict. */
  async write(name: string, spec: Mutation | undefined, status: Mutation | undefined): Promise<ClusterObject | undefined> {
    let current = this.cache.get(name);
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt += 1) {
      if (!current) current = await this.#get(name);
      if (!current) return undefined;
      try {
        return await this.#writeOnce(structuredClone(current), spec, status);
      } catch (error) {
        if (error instanceof KubeError && error.code === 409) {
          current = undefined; // someone else wrote it: read the latest and redo the change
          continue;
        }
        if (error instanceof KubeError && error.code === 404) return undefined;
        throw error;
      }
    }
    throw new Error(`cluster ${name}: still conflicting after ${MAX_CONFLICT_RETRIES} attempts`);
  }

  async #writeOnce(cluster: ClusterObject, spec: Mutation | undefined, status: Mutation | undefined): Promise<ClusterObject> {
    const name = cluster.metadata.name;
    const reasons = spec ? await spec(cluster) : [];
    const separateStatus = await this.#hasStatusSubresource();
    if (status && !separateStatus) reasons.push(...(await status(cluster)));
    let result = cluster;
    if (reasons.length > 0) {
      result = await this.client.json<ClusterObject>({ method: 'PUT', path: `${CLUSTERS_PATH}/${name}`, body: cluster });
      this.counted('cluster', name, reasons);
      this.cache.store(result);
    }
    if (status && separateStatus) {
      const next = structuredClone(result);
      const statusReasons = await status(next);
      if (statusReasons.length > 0) {
        result = await this.client.json<ClusterObject>({ method: 'PUT', path: `${CLUSTERS_PATH}/${name}/status`, body: next });
        this.counted('cluster-status', name, statusReasons);
        this.cache.store(result);
      }
    }
    return result;
  }

  async #get(name: string): Promise<ClusterObject | undefined> {
    try {
      const fresh = await this.client.json<ClusterObject>({ method: 'GET', path: `${CLUSTERS_PATH}/${name}` });
      this.cache.store(fresh);
      return fresh;
    } catch (error) {
      if (error instanceof KubeError && error.code === 404) return undefined;
      throw error;
    }
  }

  /** From discovery: does `clusters/status` exist? Asked once, then remembered. */
  async #hasStatusSubresource(): Promise<boolean> {
    if (this.#statusSubresource === undefined) {
      const list = await this.client.json<{ resources: Array<{ name: string }> }>({
        method: 'GET',
        path: `/apis/${CLUSTER_GROUP}/${CLUSTER_VERSION}`,
      });
      this.#statusSubresource = list.resources.some((r) => r.name === 'clusters/status');
    }
    return this.#statusSubresource;
  }
}
