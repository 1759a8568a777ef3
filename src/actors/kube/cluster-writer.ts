/**
 * Read-modify-write of Cluster objects with retries on Conflict. Status goes through
 * `/status` when the CRD declares that subresource and with the object when it does not
 * (KubeSphere's CRD has none); both are handled.
 */
import { KubeError, type KubeClient } from '../../kube/kube-client.js';
import { CLUSTER_GROUP, CLUSTER_VERSION, CLUSTERS_PATH, type ClusterObject } from '../../kube/cluster-types.js';

/** Attempts per write before giving up (the work queue retries later). */
const MAX_CONFLICT_RETRIES = 8;

/** Mutates its argument; returns true when it changed something. */
export type Mutation = (cluster: ClusterObject) => boolean | Promise<boolean>;

export class ClusterWriter {
  #statusSubresource: boolean | undefined;

  constructor(
    private readonly client: KubeClient,
    /** The freshest copy we have (the watch cache); updated with every write's answer. */
    private readonly cache: Map<string, ClusterObject>,
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
    const specChanged = spec ? await spec(cluster) : false;
    const separateStatus = await this.#hasStatusSubresource();
    let statusChanged = false;
    if (status && !separateStatus) statusChanged = await status(cluster);
    let result = cluster;
    if (specChanged || statusChanged) {
      result = await this.client.json<ClusterObject>({ method: 'PUT', path: `${CLUSTERS_PATH}/${name}`, body: cluster });
      this.cache.set(name, result);
    }
    if (status && separateStatus) {
      const next = structuredClone(result);
      if (await status(next)) {
        result = await this.client.json<ClusterObject>({ method: 'PUT', path: `${CLUSTERS_PATH}/${name}/status`, body: next });
        this.cache.set(name, result);
      }
    }
    return result;
  }

  async #get(name: string): Promise<ClusterObject | undefined> {
    try {
      const fresh = await this.client.json<ClusterObject>({ method: 'GET', path: `${CLUSTERS_PATH}/${name}` });
      this.cache.set(name, fresh);
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
