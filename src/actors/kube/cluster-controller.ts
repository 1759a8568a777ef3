/**
 * The Kubernetes-backed cluster source: watches Cluster objects and the `mc-*` Services,
 * and reconciles each proxy-type cluster as the Go tower's controller does — token, ports
 * without collisions, Service, endpoints, conditions, kubeconfig when an agent connects —
 * then serves it to the proxy through the ClusterSource interface.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { InspectionEvent } from 'xstate';
import { KubeError, type KubeClient } from '../../kube/kube-client.js';
import {
  allocatePorts,
  desiredService,
  endpointsFor,
  ingressHost,
  isServable,
  portsOf,
  servedCluster,
  serviceDiffers,
  serviceName,
  takenPorts,
  type ServiceObject,
} from '../../kube/cluster-plan.js';
import { CLUSTERS_PATH, TOWER_NAMESPACE, withCondition, type ClusterObject, type ConditionType } from '../../kube/cluster-types.js';
import type { Logger } from '../../log.js';
import type { Delivery, KubeObject } from '../../machines/resource-watch.js';
import { buildKubeconfig } from '../../pki/kubeconfig.js';
import { ADMIN_CLIENT } from '../../pki/issue.js';
import { diffClusters } from '../../cluster-sources/cluster-diff.js';
import type { ClusterSource, ClusterSourceEvent, ServedCluster } from '../../cluster-sources/cluster-source.js';
import type { PkiPool } from '../../workers/pki-pool.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { ClusterWriter } from './cluster-writer.js';
import { isPortFree } from './port-probe.js';
import { startResourceWatch } from './resource-watch.js';
import { WorkQueue } from './work-queue.js';

const SERVICES_PATH = `/api/v1/namespaces/${TOWER_NAMESPACE}/services`;
/** Reissue the kubeconfig's client certificate when less than this is left. */
const KUBECONFIG_RENEW_MS = 30 * 86_400_000;

export interface ClusterControllerOptions {
  readonly client: KubeClient;
  readonly pki: PkiPool;
  readonly logger: Logger;
  /** Where the cluster listeners bind (to check a port is free before handing it out). */
  readonly host: string;
  readonly publishServiceAddress?: string;
  readonly inspect?: (event: InspectionEvent) => void;
  readonly metrics?: ProxyMetrics;
}

export class ClusterController implements ClusterSource {
  readonly #clusters = new Map<string, ClusterObject>();
  readonly #services = new Map<string, ServiceObject>();
  readonly #agents = new Map<string, number>();
  #served = new Map<string, ServedCluster>();
  readonly #listeners = new Set<(event: ClusterSourceEvent) => void>();
  readonly #queue: WorkQueue;
  readonly #writer: ClusterWriter;
  readonly #watches: Array<{ stop(): void }> = [];
  readonly #log: Logger;
  #synced = { clusters: false, services: false };
  #onSynced: (() => void) | undefined;
  /** Reconciles done, for tests and metrics. */
  reconciles = 0;
  reconcileErrors = 0;

  constructor(private readonly options: ClusterControllerOptions) {
    this.#log = options.logger.child({ component: 'cluster-controller' });
    this.#writer = new ClusterWriter(options.client, this.#clusters);
    this.#queue = new WorkQueue(
      (name) => this.#reconcile(name),
      (name, error, retryInMs) => {
        this.reconcileErrors += 1;
        options.metrics?.reconciles.inc({ result: 'error' });
        this.#log.warn({ cluster: name, error: error instanceof Error ? error.message : String(error), retryInMs }, 'Reconcile failed; retrying');
      },
    );
  }

  /** Start watching; resolves once both collections were listed and first reconciled. */
  async start(): Promise<void> {
    const synced = new Promise<void>((resolve) => (this.#onSynced = resolve));
    const common = { client: this.options.client, logger: this.options.logger, ...(this.options.inspect ? { inspect: this.options.inspect } : {}) };
    const watch = (path: string, resource: string, onDelivery: (d: Delivery) => void) =>
      startResourceWatch({ ...common, path, resource, onDelivery, onRelist: () => this.options.metrics?.watchRestarts.inc({ resource }) });
    this.#watches.push(
      watch(CLUSTERS_PATH, 'clusters.cluster.kubesphere.io', (d) => this.#onClusters(d)),
      watch(SERVICES_PATH, `services/${TOWER_NAMESPACE}`, (d) => this.#onServices(d)),
    );
    await synced;
    await this.#queue.idle();
  }

  snapshot(): ReadonlyMap<string, ServedCluster> {
    return this.#served;
  }

  subscribe(listener: (event: ClusterSourceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const watch of this.#watches) watch.stop();
    this.#queue.close();
    await this.#queue.idle(); // let a reconcile in flight finish its request
  }

  /** The proxy's word on how many agents of `name` are serving now. */
  agentsChanged(name: string, count: number): void {
    const before = this.#agents.get(name) ?? 0;
    if (count === 0) this.#agents.delete(name);
    else this.#agents.set(name, count);
    if ((before === 0) !== (count === 0)) this.#queue.add(name);
  }

  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  #onClusters(delivery: Delivery): void {
    if (delivery.type === 'sync') {
      const names = new Set(this.#clusters.keys());
      this.#clusters.clear();
      for (const item of delivery.items) this.#clusters.set(item.metadata.name, item as ClusterObject);
      for (const name of new Set([...names, ...this.#clusters.keys()])) this.#queue.add(name);
      this.#markSynced('clusters');
      return;
    }
    const name = delivery.object.metadata.name;
    if (delivery.type === 'DELETED') this.#clusters.delete(name);
    else if (isNewer(delivery.object, this.#clusters.get(name))) this.#clusters.set(name, delivery.object as ClusterObject);
    this.#queue.add(name);
  }

  #onServices(delivery: Delivery): void {
    const relevant = (o: KubeObject) => o.metadata.name.startsWith('mc-');
    if (delivery.type === 'sync') {
      this.#services.clear();
      for (const item of delivery.items.filter(relevant)) this.#services.set(item.metadata.name, item as unknown as ServiceObject);
      this.#markSynced('services');
      return;
    }
    if (!relevant(delivery.object)) return;
    const name = delivery.object.metadata.name;
    if (delivery.type === 'DELETED') this.#services.delete(name);
    else this.#services.set(name, delivery.object as unknown as ServiceObject);
    // A Service change matters for its cluster (ClusterIP, load-balancer ingress).
    this.#queue.add(name.slice('mc-'.length));
  }

  #markSynced(which: 'clusters' | 'services'): void {
    this.#synced[which] = true;
    if (this.#synced.clusters && this.#synced.services) {
      // Reconciles asked for before both lists arrived were skipped: do them now.
      for (const name of this.#clusters.keys()) this.#queue.add(name);
      this.#onSynced?.();
      this.#onSynced = undefined;
    }
  }

  async #reconcile(name: string): Promise<void> {
    if (!this.#synced.clusters || !this.#synced.services) return;
    this.reconciles += 1;
    this.options.metrics?.reconciles.inc({ result: 'ok' });
    const cluster = this.#clusters.get(name);
    if (!cluster || !isServable(cluster)) {
      this.#serve(name, undefined);
      await this.#deleteService(name);
      return;
    }
    const initialized = await this.#writer.write(name, (c) => this.#ensureTokenAndPorts(c), undefined);
    if (!initialized) return;
    const ports = portsOf(initialized);
    if (!ports) return;
    const service = await this.#ensureService(initialized, ports);
    const external = initialized.spec?.externalKubeAPIEnabled ? ingressHost(service) : undefined;
    const endpoints = endpointsFor(ports, this.options.publishServiceAddress, service.spec.clusterIP);
    const now = new Date().toISOString();
    const agents = this.#agents.get(name) ?? 0;
    const kubeconfig = agents > 0 && endpoints ? await this.#kubeconfigFor(initialized, endpoints.kubernetes) : undefined;
    const written = await this.#writer.write(
      name,
      (c) => {
        const conn = (c.spec ??= {}).connection ?? {};
        const before = JSON.stringify(conn);
        if (endpoints) {
          conn.kubernetesAPIEndpoint = endpoints.kubernetes;
          conn.kubesphereAPIEndpoint = endpoints.kubesphere;
        }
        if (external) conn.externalKubernetesAPIEndpoint = `https://${external.includes(':') ? `[${external}]` : external}:6443`;
        if (kubeconfig && kubeconfig !== conn.kubeconfig) conn.kubeconfig = kubeconfig;
        c.spec.connection = conn;
        return JSON.stringify(conn) !== before;
      },
      (c) => {
        let conditions = c.status?.conditions;
        const set = (type: ConditionType, status: 'True' | 'False', reason: string, message: string) => {
          conditions = withCondition(conditions, type, status, reason, message, now) ?? conditions;
        };
        set('Initialized', 'True', 'Initialized', 'Cluster has been initialized');
        if (agents > 0) set('AgentAvailable', 'True', 'AgentConnected', 'Agent has connected to proxy successfully.');
        else if (c.status?.conditions?.some((x) => x.type === 'AgentAvailable')) {
          set('AgentAvailable', 'False', 'AgentDisconnected', 'Agent has not connected to proxy.');
        }
        if (external) set('ExternalAccessReady', 'True', 'LoadBalancerReady', `External kube-apiserver endpoint is https://${external}:6443`);
        if (conditions === c.status?.conditions) return false;
        c.status = { ...(c.status ?? {}), conditions: conditions ?? [] };
        return true;
      },
    );
    if (!written) return;
    const hosts = [this.options.publishServiceAddress, service.spec.clusterIP, external].filter((h): h is string => Boolean(h) && h !== 'None');
    this.#serve(name, servedCluster(written, hosts));
  }

  /** Token (32 random bytes, hex) when empty; ports when unset. */
  async #ensureTokenAndPorts(cluster: ClusterObject): Promise<boolean> {
    const conn = ((cluster.spec ??= {}).connection ??= {});
    let changed = false;
    if (!conn.token) {
      conn.token = randomBytes(32).toString('hex');
      changed = true;
    }
    if (!portsOf(cluster)) {
      const ports = await allocatePorts(takenPorts(this.#clusters.values(), cluster.metadata.name), (p) => isPortFree(this.options.host, p));
      if (!ports) throw new Error('no free port pair left in 6000-7000 / 16000-17000');
      conn.kubernetesAPIServerPort = ports.kube;
      conn.kubesphereAPIServerPort = ports.ks;
      changed = true;
    }
    return changed;
  }

  async #ensureService(cluster: ClusterObject, ports: { kube: number; ks: number }): Promise<ServiceObject> {
    const desired = desiredService(cluster, ports);
    const name = desired.metadata.name;
    const live = this.#services.get(name);
    const path = `${SERVICES_PATH}/${name}`;
    let result: ServiceObject;
    if (!live) {
      try {
        result = await this.options.client.json<ServiceObject>({ method: 'POST', path: SERVICES_PATH, body: desired });
      } catch (error) {
        if (!(error instanceof KubeError && error.code === 409)) throw error;
        result = await this.options.client.json<ServiceObject>({ method: 'GET', path });
      }
    } else if (serviceDiffers(live, desired)) {
      const merged: ServiceObject = {
        ...live,
        metadata: { ...live.metadata, ...desired.metadata, annotations: { ...live.metadata.annotations, ...desired.metadata.annotations } },
        spec: { ...live.spec, ...desired.spec, ...(live.spec.clusterIP ? { clusterIP: live.spec.clusterIP } : {}) },
      };
      result = await this.options.client.json<ServiceObject>({ method: 'PUT', path, body: merged });
    } else {
      return live;
    }
    this.#services.set(name, result);
    return result;
  }

  async #deleteService(cluster: string): Promise<void> {
    const name = serviceName(cluster);
    if (!this.#services.has(name)) return;
    try {
      await this.options.client.json({ method: 'DELETE', path: `${SERVICES_PATH}/${name}` });
    } catch (error) {
      if (!(error instanceof KubeError && error.code === 404)) throw error;
    }
    this.#services.delete(name);
    this.#log.info({ cluster, service: name }, 'Service deleted');
  }

  /** The kubeconfig to store (base64), reusing the current one while it still fits. */
  async #kubeconfigFor(cluster: ClusterObject, server: string): Promise<string> {
    const current = cluster.spec?.connection?.kubeconfig;
    if (current && kubeconfigStillGood(current, server, this.options.pki.caPem)) return current;
    const cert = await this.options.pki.issueClientCert(ADMIN_CLIENT);
    const yaml = buildKubeconfig({
      server,
      clusterName: cluster.metadata.name,
      caPem: this.options.pki.caPem,
      clientCertPem: cert.certPem,
      clientKeyPem: cert.keyPem,
    });
    this.#log.info({ cluster: cluster.metadata.name, server }, 'Kubeconfig issued');
    return Buffer.from(yaml).toString('base64');
  }

  #serve(name: string, cluster: ServedCluster | undefined): void {
    const next = new Map(this.#served);
    if (cluster) next.set(name, cluster);
    else next.delete(name);
    const events = diffClusters(this.#served, next);
    this.#served = next;
    for (const event of events) {
      this.#log.info({ cluster: name, change: event.type }, event.type === 'cluster.upsert' ? 'Serving cluster' : 'No longer serving cluster');
      for (const listener of this.#listeners) listener(event);
    }
  }
}

function isNewer(incoming: KubeObject, cached: KubeObject | undefined): boolean {
  const a = Number(incoming.metadata.resourceVersion);
  const b = Number(cached?.metadata.resourceVersion);
  return !cached || !Number.isFinite(a) || !Number.isFinite(b) || a >= b;
}

/** Same server and CA, and a client certificate with more than 30 days left. */
function kubeconfigStillGood(base64: string, server: string, caPem: string): boolean {
  try {
    const config = parseYaml(Buffer.from(base64, 'base64').toString('utf8')) as {
      clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string } }>;
      users?: Array<{ user?: { 'client-certificate-data'?: string } }>;
    };
    const cluster = config.clusters?.[0]?.cluster;
    const certData = config.users?.[0]?.user?.['client-certificate-data'];
    if (!cluster || cluster.server !== server || !certData) return false;
    if (Buffer.from(cluster['certificate-authority-data'] ?? '', 'base64').toString('utf8').trim() !== caPem.trim()) return false;
    const cert = new X509Certificate(Buffer.from(certData, 'base64'));
    return new Date(cert.validTo).getTime() - Date.now() > KUBECONFIG_RENEW_MS;
  } catch {
    return false;
  }
}
