/**
 * The Kubernetes-backed cluster source: watches Cluster objects and the `mc-*` Services,
 * and reconciles each proxy-type cluster as the Go tower's controller does — token, ports
 * without collisions, Service, endpoints, conditions, kubeconfig when an agent connects —
 * then serves it to the proxy through the ClusterSource interface.
 *
 * The decisions are pure (src/kube/cluster-plan.ts, cluster-status.ts, kubeconfig-plan.ts);
 * this orchestrates them. A reconcile that finds nothing to change writes nothing: every
 * write is counted (`tower_controller_writes_total`), and the tests hold a steady state
 * at zero writes.
 */
import { randomBytes } from 'node:crypto';
import type { InspectionEvent } from 'xstate';
import type { AgentReport, ClusterSource, ClusterSourceEvent, ServedCluster } from '../../cluster-sources/cluster-source.js';
import { diffClusters } from '../../cluster-sources/cluster-diff.js';
import { errorMessage } from '../../errors.js';
import {
  ALLOCATED_PORTS_ANNOTATION,
  allocatePorts,
  desiredService,
  endpointsFor,
  ingressHost,
  isServable,
  portClaims,
  portProblem,
  portsAllocatedByUs,
  portsOf,
  servedCluster,
  takenPorts,
  type Ports,
  type ServiceObject,
} from '../../kube/cluster-plan.js';
import { servedConditions, unservedConditions, type ListenerState } from '../../kube/cluster-status.js';
import { CLUSTERS_PATH, type ClusterCondition, type ClusterObject } from '../../kube/cluster-types.js';
import type { KubeClient } from '../../kube/kube-client.js';
import { planKubeconfig, type KubeconfigReason } from '../../kube/kubeconfig-plan.js';
import type { Logger } from '../../log.js';
import type { Delivery } from '../../machines/resource-watch.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { adminClientFor } from '../../pki/admin-client.js';
import { buildKubeconfig } from '../../pki/kubeconfig.js';
import { DAY_MS } from '../../pki/validity.js';
import type { PkiPool } from '../../workers/pki-pool.js';
import { ClusterEvents, type ClusterEvent } from './cluster-events.js';
import { ClusterWriter } from './cluster-writer.js';
import { isPortFree } from './port-probe.js';
import { startResourceWatch, type WatchedCollection } from './resource-watch.js';
import { SERVICES_PATH, ServiceWriter } from './service-writer.js';
import { WorkQueue } from './work-queue.js';

/** The controller's timings and limits (named, with their defaults). */
export const CONTROLLER_DEFAULTS = {
  /**
   * After a (re)start, agents have this long to come back before their clusters are
   * marked AgentAvailable False: a restarted or newly elected proxy does not flap every
   * cluster False and back True.
   */
  agentGraceMs: 30_000,
  /** A CA with less than this left is reported (log, Event) once. */
  caWarningMs: 30 * DAY_MS,
};

export interface ClusterControllerOptions {
  readonly client: KubeClient;
  readonly pki: PkiPool;
  readonly logger: Logger;
  /** Where the cluster listeners bind (to check a port is free before handing it out). */
  readonly host: string;
  /** The proxy's agent port: no cluster may use it. */
  readonly agentPort: number;
  readonly publishServiceAddress?: string;
  readonly inspect?: (event: InspectionEvent) => void;
  readonly metrics?: ProxyMetrics;
  readonly agentGraceMs?: number;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

export class ClusterController implements ClusterSource {
  readonly #options: ClusterControllerOptions;
  readonly #log: Logger;
  readonly #clusters: WatchedCollection<ClusterObject>;
  readonly #services: WatchedCollection<ServiceObject>;
  readonly #agents = new Map<string, number>();
  /** Clusters an agent served through this process: the startup grace is over for them. */
  readonly #seenAgents = new Set<string>();
  /** The listeners' bind outcome per cluster, for the ports it was about. */
  readonly #listeners = new Map<string, { ports: Ports; state: ListenerState }>();
  #served = new Map<string, ServedCluster>();
  readonly #subscribers = new Set<(event: ClusterSourceEvent) => void>();
  readonly #queue: WorkQueue;
  readonly #writer: ClusterWriter;
  readonly #serviceWriter: ServiceWriter;
  readonly #events: ClusterEvents;
  readonly #now: () => Date;
  readonly #startedAt: number;
  #graceTimer: NodeJS.Timeout | undefined;
  /** Settles start(): both lists arrived, or closed first. */
  #startWaiter: ((error: Error | undefined) => void) | undefined;
  /** Port problems already told as an Event, by cluster. */
  readonly #toldPortProblems = new Map<string, string>();
  readonly #toldCaExpiring = new Set<string>();
  /** Reconciles done, for tests and metrics. */
  reconciles = 0;
  reconcileErrors = 0;
  readonly #reconciled = new Set<() => void>();

  constructor(options: ClusterControllerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#startedAt = this.#now().getTime();
    this.#log = options.logger.child({ component: 'cluster-controller' });
    const metrics = options.metrics;
    const common = { client: options.client, logger: options.logger, ...(options.inspect ? { inspect: options.inspect } : {}) };
    const watch = <T extends ClusterObject | ServiceObject>(path: string, resource: string, onDelivery: (d: Delivery) => void) =>
      startResourceWatch<T>({
        ...common,
        path,
        resource,
        onDelivery,
        onRelist: () => metrics?.watchRestarts.inc({ resource }),
      });
    this.#clusters = watch<ClusterObject>(CLUSTERS_PATH, 'clusters.cluster.kubesphere.io', (d) => this.#onClusters(d));
    this.#services = watch<ServiceObject>(SERVICES_PATH, 'services/kubesphere-system', (d) => this.#onServices(d));
    const count = (resource: string, cluster: string, reason: string) => metrics?.writes.inc({ resource, cluster, reason });
    this.#writer = new ClusterWriter(options.client, this.#clusters, (resource, cluster, reasons) => count(resource, cluster, reasons.join('+')));
    this.#serviceWriter = new ServiceWriter(options.client, this.#services, (cluster, reason) => count('service', cluster, reason));
    this.#events = new ClusterEvents({
      client: options.client,
      logger: options.logger,
      uidOf: (name) => this.#clusters.get(name)?.metadata.uid,
      counted: (cluster, reason) => count('event', cluster, reason),
      dropped: () => metrics?.eventsDropped.inc(),
      now: () => this.#now().getTime(),
    });
    this.#queue = new WorkQueue(
      (name) => this.#reconcile(name).finally(() => this.#reconciled.forEach((listener) => listener())),
      (name, error, retryInMs) => {
        this.reconcileErrors += 1;
        metrics?.reconciles.inc({ result: 'error' });
        this.#log.warn({ cluster: name, error: errorMessage(error), retryInMs }, 'Reconcile failed; retrying');
      },
    );
  }

  /**
   * Start watching; resolves once both collections were listed and first reconciled, or
   * rejects when closed first (a list that keeps failing, e.g. 403, must not hold a stop).
   */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#startWaiter = (error) => (error ? reject(error) : resolve());
      this.#checkSynced();
    });
    this.#requeueAll();
    await this.#queue.idle();
    const grace = this.#options.agentGraceMs ?? CONTROLLER_DEFAULTS.agentGraceMs;
    this.#graceTimer = setTimeout(() => this.#requeueAll(), grace);
    this.#graceTimer.unref();
  }

  snapshot(): ReadonlyMap<string, ServedCluster> {
    return this.#served;
  }

  subscribe(listener: (event: ClusterSourceEvent) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  async close(): Promise<void> {
    this.#startWaiter?.(new Error('the cluster controller was closed before its first lists'));
    this.#startWaiter = undefined;
    clearTimeout(this.#graceTimer);
    this.#clusters.stop();
    this.#services.stop();
    this.#queue.close();
    await this.#queue.idle(); // let a reconcile in flight finish its request
  }

  /** The proxy's word on how many agents of `name` are serving now. */
  agentsChanged(name: string, count: number): void {
    const before = this.#agents.get(name) ?? 0;
    if (count === 0) this.#agents.delete(name);
    else {
      this.#agents.set(name, count);
      this.#seenAgents.add(name);
    }
    if ((before === 0) !== (count === 0)) this.#queue.add(name);
  }

  /** The proxy's word on a cluster's listeners: bound (undefined) or why not. */
  bindChanged(name: string, problem: string | undefined): void {
    const served = this.#served.get(name);
    if (!served) return;
    const ports = { kube: served.kubernetesAPIServerPort, ks: served.kubesphereAPIServerPort };
    const state: ListenerState =
      problem === undefined ? { ok: true } : { ok: false, reason: /already in use/.test(problem) ? 'PortInUse' : 'ListenFailed', message: problem };
    this.#listeners.set(name, { ports, state });
    this.#queue.add(name);
  }

  /** The proxy's word on an agent, for the Cluster's Events. */
  agentReport(report: AgentReport): void {
    if (!this.#clusters.get(report.cluster)) return; // no Event about a name that is no Cluster
    const event: ClusterEvent =
      report.kind === 'connected'
        ? { cluster: report.cluster, type: 'Normal', reason: 'AgentConnected', message: `Agent ${report.version ?? '(no version)'} connected from ${report.remote}` }
        : report.kind === 'disconnected'
          ? { cluster: report.cluster, type: 'Normal', reason: 'AgentDisconnected', message: `Agent disconnected: ${report.reason}` }
          : { cluster: report.cluster, type: 'Warning', reason: 'AgentRejected', message: `Agent from ${report.remote} rejected: ${report.reason}` };
    this.#events.record(event);
  }

  /** Called after every reconcile (done or failed); returns an unsubscribe. */
  onReconciled(listener: () => void): () => void {
    this.#reconciled.add(listener);
    return () => this.#reconciled.delete(listener);
  }

  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  #requeueAll(): void {
    for (const cluster of this.#clusters.values()) this.#queue.add(cluster.metadata.name);
    for (const name of this.#served.keys()) this.#queue.add(name);
  }

  #checkSynced(): void {
    if (!this.#startWaiter || !this.#clusters.synced || !this.#services.synced) return;
    this.#startWaiter(undefined);
    this.#startWaiter = undefined;
  }

  #onClusters(delivery: Delivery): void {
    this.#checkSynced();
    if (!this.#services.synced) return; // start() reconciles everything once both are listed
    if (delivery.type === 'sync') this.#requeueAll();
    else this.#queue.add(delivery.object.metadata.name);
  }

  #onServices(delivery: Delivery): void {
    this.#checkSynced();
    if (!this.#clusters.synced) return;
    if (delivery.type === 'sync') return this.#requeueAll();
    const name = delivery.object.metadata.name;
    // A Service change matters for its cluster (ClusterIP, load-balancer ingress).
    if (name.startsWith('mc-')) this.#queue.add(name.slice('mc-'.length));
  }

  async #reconcile(name: string): Promise<void> {
    if (!this.#clusters.synced || !this.#services.synced) return;
    this.reconciles += 1;
    this.#options.metrics?.reconciles.inc({ result: 'ok' });
    const cluster = this.#clusters.get(name);
    if (!cluster || !isServable(cluster)) return this.#unserve(name, cluster);

    const initialized = await this.#writer.write(name, (c) => this.#tokenAndPorts(c), undefined);
    if (!initialized) return;
    const ports = portsOf(initialized);
    const now = this.#now();
    const claims = portClaims(this.#clusters.values());
    const problem = ports
      ? portProblem(ports, this.#options.agentPort, (port) => (claims.get(port) === name ? undefined : claims.get(port)))
      : { reason: 'InvalidPort' as const, message: 'no free port pair is left in 6000-7000 / 16000-17000' };
    if (!ports || problem) {
      // Ports nobody can serve: no listeners, no Service; the Cluster says why.
      const why = problem ?? { reason: 'InvalidPort' as const, message: 'no ports' };
      this.#serve(name, undefined);
      this.#tell(name, why.reason, why.message);
      await this.#writer.write(name, undefined, (c) =>
        changedStatus(c, servedConditions(c.status?.conditions, this.#facts(name, undefined, { ok: false, ...why }), now.toISOString())),
      );
      return;
    }

    const service = await this.#serviceWriter.ensure(name, desiredService(initialized, ports));
    const external = initialized.spec?.externalKubeAPIEnabled ? ingressHost(service) : undefined;
    const endpoints = endpointsFor(ports, this.#options.publishServiceAddress, service.spec.clusterIP);
    const agents = this.#agents.get(name) ?? 0;
    const kubeconfig = agents > 0 && endpoints ? await this.#kubeconfigFor(initialized, endpoints.kubernetes, now) : undefined;
    const listeners = this.#listenerState(name, ports);
    if (listeners && !listeners.ok) this.#tell(name, listeners.reason, listeners.message);
    else this.#toldPortProblems.delete(name);
    const written = await this.#writer.write(
      name,
      (c) => {
        const conn = (c.spec ??= {}).connection ?? {};
        const reasons: string[] = [];
        if (endpoints && (conn.kubernetesAPIEndpoint !== endpoints.kubernetes || conn.kubesphereAPIEndpoint !== endpoints.kubesphere)) {
          conn.kubernetesAPIEndpoint = endpoints.kubernetes;
          conn.kubesphereAPIEndpoint = endpoints.kubesphere;
          reasons.push('endpoints');
        }
        const externalEndpoint = external ? `https://${external.includes(':') ? `[${external}]` : external}:6443` : undefined;
        if (externalEndpoint && conn.externalKubernetesAPIEndpoint !== externalEndpoint) {
          conn.externalKubernetesAPIEndpoint = externalEndpoint;
          reasons.push('external-endpoint');
        }
        if (kubeconfig && conn.kubeconfig !== kubeconfig) {
          conn.kubeconfig = kubeconfig;
          reasons.push('kubeconfig');
        }
        c.spec.connection = conn;
        return reasons;
      },
      (c) => changedStatus(c, servedConditions(c.status?.conditions, this.#facts(name, external, listeners), now.toISOString())),
    );
    if (!written) return;
    const hosts = [this.#options.publishServiceAddress, service.spec.clusterIP, external].filter((h): h is string => Boolean(h) && h !== 'None');
    this.#serve(name, servedCluster(written, ports, hosts));
  }

  /** Not served (deleted, being deleted, not a proxy cluster): no listeners, no Service, AgentAvailable not True. */
  async #unserve(name: string, cluster: ClusterObject | undefined): Promise<void> {
    this.#serve(name, undefined);
    this.#listeners.delete(name);
    await this.#serviceWriter.delete(name);
    if (cluster && !cluster.metadata.deletionTimestamp) {
      const now = this.#now().toISOString();
      await this.#writer.write(name, undefined, (c) => changedStatus(c, unservedConditions(c.status?.conditions, now)));
    }
  }

  #facts(name: string, external: string | undefined, listeners: ListenerState) {
    const grace = this.#options.agentGraceMs ?? CONTROLLER_DEFAULTS.agentGraceMs;
    return {
      agents: this.#agents.get(name) ?? 0,
      agentGraceOver: this.#seenAgents.has(name) || this.#now().getTime() - this.#startedAt >= grace,
      external,
      listeners,
    };
  }

  /** The listeners' outcome for these ports, if the gateway reported one. */
  #listenerState(name: string, ports: Ports): ListenerState {
    const known = this.#listeners.get(name);
    return known && known.ports.kube === ports.kube && known.ports.ks === ports.ks ? known.state : undefined;
  }

  /**
   * Token (32 random bytes, hex) when empty; ports when unset, and again when the ports the
   * proxy chose cannot be bound (someone else took them); ports a user set are only reported.
   */
  async #tokenAndPorts(cluster: ClusterObject): Promise<string[]> {
    const name = cluster.metadata.name;
    const conn = ((cluster.spec ??= {}).connection ??= {});
    const reasons: string[] = [];
    if (!conn.token) {
      conn.token = randomBytes(32).toString('hex');
      reasons.push('token');
    }
    const current = portsOf(cluster);
    const listeners = current ? this.#listenerState(name, current) : undefined;
    const taken = current !== undefined && listeners?.ok === false && listeners.reason === 'PortInUse' && portsAllocatedByUs(cluster, current);
    if (!current || taken) {
      const agentPort = this.#options.agentPort;
      const ports = await allocatePorts(takenPorts(this.#clusters.values(), name, agentPort), (p) => isPortFree(this.#options.host, p));
      if (!ports) return reasons; // reported as InvalidPort by the reconcile
      conn.kubernetesAPIServerPort = ports.kube;
      conn.kubesphereAPIServerPort = ports.ks;
      (cluster.metadata.annotations ??= {})[ALLOCATED_PORTS_ANNOTATION] = `${ports.kube},${ports.ks}`;
      reasons.push(taken ? 'ports-reallocated' : 'ports');
      if (taken) this.#log.warn({ cluster: name, from: current, to: ports }, 'Ports the proxy chose are taken by another process; chose new ones');
    }
    return reasons;
  }

  /** The kubeconfig to store (base64): the current one while it still fits, else a new one. */
  async #kubeconfigFor(cluster: ClusterObject, server: string, now: Date): Promise<string | undefined> {
    const name = cluster.metadata.name;
    const pki = this.#options.pki;
    const current = cluster.spec?.connection?.kubeconfig;
    this.#warnIfCaExpiring(name, now);
    const decision = planKubeconfig(current, { cluster: name, server, caPem: pki.caPem, caNotAfter: pki.caNotAfter, now });
    if (!decision.issue) return current;
    const cert = await pki.issueClientCert(adminClientFor(name));
    const yaml = buildKubeconfig({ server, clusterName: name, caPem: pki.caPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem });
    this.#log.info({ cluster: name, server, reason: decision.reason }, 'Kubeconfig issued');
    this.#events.record({ cluster: name, type: 'Normal', ...KUBECONFIG_EVENTS[decision.reason] });
    return Buffer.from(yaml).toString('base64');
  }

  /** A CA near its end is said once per process (log) and once per cluster (Event), not at every reconcile. */
  #warnIfCaExpiring(name: string, now: Date): void {
    const left = this.#options.pki.caNotAfter.getTime() - now.getTime();
    if (left >= CONTROLLER_DEFAULTS.caWarningMs || this.#toldCaExpiring.has(name)) return;
    const days = Math.max(0, Math.floor(left / DAY_MS));
    const message = `The proxy CA expires in ${days} day(s) (${this.#options.pki.caNotAfter.toISOString()}); kubeconfigs cannot outlive it: rotate the CA (--ca-cert/--ca-key)`;
    if (this.#toldCaExpiring.size === 0) this.#log.warn({ caNotAfter: this.#options.pki.caNotAfter.toISOString(), days }, message);
    this.#toldCaExpiring.add(name);
    this.#events.record({ cluster: name, type: 'Warning', reason: 'CAExpiring', message });
  }

  /** A port problem, as an Event once per change. */
  #tell(name: string, reason: string, message: string): void {
    if (this.#toldPortProblems.get(name) === message) return;
    this.#toldPortProblems.set(name, message);
    this.#log.warn({ cluster: name, reason }, message);
    this.#events.record({ cluster: name, type: 'Warning', reason, message });
  }

  #serve(name: string, cluster: ServedCluster | undefined): void {
    const next = new Map(this.#served);
    if (cluster) next.set(name, cluster);
    else next.delete(name);
    const events = diffClusters(this.#served, next);
    this.#served = next;
    for (const event of events) {
      this.#log.info({ cluster: name, change: event.type }, event.type === 'cluster.upsert' ? 'Serving cluster' : 'No longer serving cluster');
      for (const subscriber of this.#subscribers) subscriber(event);
    }
  }
}

/** Set the planned conditions on `cluster` (nothing planned: nothing to write). */
function changedStatus(cluster: ClusterObject, conditions: ClusterCondition[] | undefined): string[] {
  if (!conditions) return [];
  cluster.status = { ...(cluster.status ?? {}), conditions };
  return ['conditions'];
}

const KUBECONFIG_EVENTS: Record<KubeconfigReason, { reason: string; message: string }> = {
  missing: { reason: 'KubeconfigIssued', message: 'Issued the kubeconfig for this cluster (client certificate signed by the proxy CA)' },
  unreadable: { reason: 'KubeconfigIssued', message: 'The stored kubeconfig could not be read; issued a new one' },
  'server-changed': { reason: 'KubeconfigIssued', message: 'The cluster endpoint changed; issued a kubeconfig for the new one' },
  'ca-changed': { reason: 'KubeconfigIssued', message: 'The proxy CA changed; issued a kubeconfig signed by the new one' },
  unbound: { reason: 'KubeconfigIssued', message: 'The stored kubeconfig\'s certificate was not bound to this cluster; issued one that is (it opens no other cluster)' },
  renewal: { reason: 'KubeconfigRenewed', message: 'The kubeconfig\'s client certificate was in the last third of its lifetime; renewed it' },
};
