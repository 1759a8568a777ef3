/**
 * The `mc-<cluster>` Services in kubesphere-system: created when missing, updated only
 * when what the proxy owns differs (type, ports, selector, its annotations), deleted with
 * the cluster. Every write is counted; its answer goes into the Service watch's cache.
 */
import { serviceDiffers, serviceName, type ServiceObject } from '../../kube/cluster-plan.js';
import { TOWER_NAMESPACE } from '../../kube/cluster-types.js';
import { KubeError, type KubeClient } from '../../kube/kube-client.js';

export const SERVICES_PATH = `/api/v1/namespaces/${TOWER_NAMESPACE}/services`;

export interface ServiceStore {
  get(name: string): ServiceObject | undefined;
  store(service: ServiceObject): void;
  forget(name: string): void;
}

export type ServiceWriteCounter = (cluster: string, reason: 'create' | 'update' | 'delete') => void;

export class ServiceWriter {
  constructor(
    private readonly client: KubeClient,
    private readonly cache: ServiceStore,
    private readonly counted: ServiceWriteCounter = () => {},
  ) {}

  /** The Service as desired: the live one when it already matches (no write). */
  async ensure(cluster: string, desired: ServiceObject): Promise<ServiceObject> {
    const name = desired.metadata.name;
    const live = this.cache.get(name);
    const path = `${SERVICES_PATH}/${name}`;
    let result: ServiceObject;
    if (!live) {
      try {
        result = await this.client.json<ServiceObject>({ method: 'POST', path: SERVICES_PATH, body: desired });
        this.counted(cluster, 'create');
      } catch (error) {
        if (!(error instanceof KubeError && error.code === 409)) throw error;
        result = await this.client.json<ServiceObject>({ method: 'GET', path });
      }
    } else if (serviceDiffers(live, desired)) {
      const merged: ServiceObject = {
        ...live,
        metadata: { ...live.metadata, ...desired.metadata, annotations: { ...live.metadata.annotations, ...desired.metadata.annotations } },
        spec: { ...live.spec, ...desired.spec, ...(live.spec.clusterIP ? { clusterIP: live.spec.clusterIP } : {}) },
      };
      result = await this.client.json<ServiceObject>({ method: 'PUT', path, body: merged });
      this.counted(cluster, 'update');
    } else {
      return live;
    }
    this.cache.store(result);
    return result;
  }

  /** Delete the cluster's Service if it exists; true when one was deleted. */
  async delete(cluster: string): Promise<boolean> {
    const name = serviceName(cluster);
    if (!this.cache.get(name)) return false;
    try {
      await this.client.json({ method: 'DELETE', path: `${SERVICES_PATH}/${name}` });
      this.counted(cluster, 'delete');
    } catch (error) {
      if (!(error instanceof KubeError && error.code === 404)) throw error;
    }
    this.cache.forget(name);
    return true;
  }
}
