/**
 * Pure decisions of the cluster controller: which clusters are served, which ports they
 * get, what their Service and endpoints look like. No I/O here.
 */
import type { ServedCluster } from '../cluster-sources/cluster-source.js';
import { EXTERNAL_LB_ANNOTATIONS, TOWER_NAMESPACE, type ClusterObject } from './cluster-types.js';

/** Ports of the kube listeners; the ks listener is the kube port + 10 000 (as in Go). */
export const KUBE_PORT_MIN = 6000;
export const KUBE_PORT_MAX = 7000;
export const KS_PORT_OFFSET = 10_000;
/** The ports a cluster may name: unprivileged, and real. */
export const PORT_MIN = 1024;
export const PORT_MAX = 65_535;

/**
 * The ports the proxy chose for a cluster (`kube,ks`), written with them: such ports may be
 * chosen again when they cannot be bound; ports a user set are only reported.
 */
export const ALLOCATED_PORTS_ANNOTATION = 'tower.kubesphere.io/allocated-ports';

export function serviceName(cluster: string): string {
  return `mc-${cluster}`;
}

/** `connection.type: proxy`, not being deleted, and not explicitly left out of federation. */
export function isServable(cluster: ClusterObject): boolean {
  return (
    cluster.spec?.connection?.type === 'proxy' &&
    cluster.spec.joinFederation !== false &&
    !cluster.metadata.deletionTimestamp
  );
}

export interface Ports {
  readonly kube: number;
  readonly ks: number;
}

/** Both ports, when both are set (whatever they hold: see `portProblem`). */
export function portsOf(cluster: ClusterObject): Ports | undefined {
  const kube: unknown = cluster.spec?.connection?.kubernetesAPIServerPort;
  const ks: unknown = cluster.spec?.connection?.kubesphereAPIServerPort;
  const set = (v: unknown) => v !== undefined && v !== null && v !== 0 && v !== '';
  return set(kube) && set(ks) ? { kube: kube as number, ks: ks as number } : undefined;
}

/** True when the ports are the ones this proxy chose (the annotation names them). */
export function portsAllocatedByUs(cluster: ClusterObject, ports: Ports): boolean {
  return cluster.metadata.annotations?.[ALLOCATED_PORTS_ANNOTATION] === `${ports.kube},${ports.ks}`;
}

export interface PortProblem {
  readonly reason: 'InvalidPort' | 'PortConflict';
  readonly message: string;
}

/**
 * What is wrong with a cluster's ports, in one line, or undefined: each an integer in
 * 1024–65535, the two different, neither the agent port, neither claimed by an older
 * cluster (`claimedBy`).
 */
export function portProblem(ports: Ports, agentPort: number, claimedBy: (port: number) => string | undefined): PortProblem | undefined {
  for (const [field, port] of [
    ['kubernetesAPIServerPort', ports.kube],
    ['kubesphereAPIServerPort', ports.ks],
  ] as const) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < PORT_MIN || port > PORT_MAX) {
      return { reason: 'InvalidPort', message: `spec.connection.${field} is ${JSON.stringify(port)}; set an integer in ${PORT_MIN}-${PORT_MAX}` };
    }
    if (port === agentPort) return { reason: 'InvalidPort', message: `spec.connection.${field} ${port} is the proxy's agent port; choose another` };
    const owner = claimedBy(port);
    if (owner) return { reason: 'PortConflict', message: `spec.connection.${field} ${port} is already used by cluster ${owner}; choose another` };
  }
  if (ports.kube === ports.ks) return { reason: 'InvalidPort', message: `kubernetesAPIServerPort and kubesphereAPIServerPort are both ${ports.kube}; give them different ports` };
  return undefined;
}

/**
 * Which cluster holds each port: clusters claim their ports oldest first (creation time,
 * then name), so a cluster that names a port an older one has is the one in conflict.
 */
export function portClaims(clusters: Iterable<ClusterObject>): Map<number, string> {
  const sorted = [...clusters].filter(isServable).sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '';
    const tb = b.metadata.creationTimestamp ?? '';
    return ta < tb ? -1 : ta > tb ? 1 : a.metadata.name.localeCompare(b.metadata.name);
  });
  const claims = new Map<number, string>();
  for (const cluster of sorted) {
    const ports = portsOf(cluster);
    if (!ports || !Number.isInteger(ports.kube) || !Number.isInteger(ports.ks)) continue;
    if (claims.has(ports.kube) || claims.has(ports.ks)) continue;
    claims.set(ports.kube, cluster.metadata.name);
    claims.set(ports.ks, cluster.metadata.name);
  }
  return claims;
}

/**
 * The lowest kube port in [6000, 7000] such that neither it nor its ks port (+10 000) is
 * taken by another cluster or by anything listening here. Undefined when none is left.
 */
export async function allocatePorts(taken: ReadonlySet<number>, isFree: (port: number) => Promise<boolean>): Promise<Ports | undefined> {
  for (let kube = KUBE_PORT_MIN; kube <= KUBE_PORT_MAX; kube += 1) {
    const ks = kube + KS_PORT_OFFSET;
    if (taken.has(kube) || taken.has(ks)) continue;
    if ((await isFree(kube)) && (await isFree(ks))) return { kube, ks };
  }
  return undefined;
}

/** Every port named by a cluster other than `except` (and the agent port). */
export function takenPorts(clusters: Iterable<ClusterObject>, except: string, agentPort: number): Set<number> {
  const taken = new Set<number>([agentPort]);
  for (const c of clusters) {
    if (c.metadata.name === except) continue;
    const ports = portsOf(c);
    if (ports) {
      taken.add(ports.kube);
      taken.add(ports.ks);
    }
  }
  return taken;
}

export interface ServiceObject {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    ownerReferences?: unknown[];
  };
  spec: {
    type: 'ClusterIP' | 'LoadBalancer';
    selector: Record<string, string>;
    ports: Array<{ name: string; protocol: 'TCP'; port: number; targetPort: number }>;
    clusterIP?: string;
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

/** Service `mc-<name>` pointing at the proxy pods' ports for this cluster. */
export function desiredService(cluster: ClusterObject, ports: Ports): ServiceObject {
  const external = cluster.spec?.externalKubeAPIEnabled === true;
  const annotations = external ? lbAnnotations(cluster) : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceName(cluster.metadata.name),
      namespace: TOWER_NAMESPACE,
      labels: { 'app.kubernetes.io/managed-by': 'tower', 'tower.kubesphere.io/cluster': cluster.metadata.name },
      ...(annotations ? { annotations } : {}),
      ...(cluster.metadata.uid
        ? {
            ownerReferences: [
              { apiVersion: 'cluster.kubesphere.io/v1alpha1', kind: 'Cluster', name: cluster.metadata.name, uid: cluster.metadata.uid },
            ],
          }
        : {}),
    },
    spec: {
      type: external ? 'LoadBalancer' : 'ClusterIP',
      selector: { app: 'tower', 'app.kubernetes.io/name': 'tower' },
      ports: [
        { name: 'kubernetes', protocol: 'TCP', port: 6443, targetPort: ports.kube },
        { name: 'kubesphere', protocol: 'TCP', port: 80, targetPort: ports.ks },
      ],
    },
  };
}

/** The LoadBalancer annotations from the Cluster's annotation; a bad JSON map gives none. */
export function lbAnnotations(cluster: ClusterObject): Record<string, string> | undefined {
  const text = cluster.metadata.annotations?.[EXTERNAL_LB_ANNOTATIONS];
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    return undefined;
  }
}

/** Does the live Service need an update to match the desired one? */
export function serviceDiffers(live: ServiceObject, desired: ServiceObject): boolean {
  const ports = (s: ServiceObject) => JSON.stringify(s.spec.ports.map((p) => [p.name, p.port, p.targetPort]));
  return (
    live.spec.type !== desired.spec.type ||
    ports(live) !== ports(desired) ||
    JSON.stringify(live.spec.selector) !== JSON.stringify(desired.spec.selector) ||
    Object.entries(desired.metadata.annotations ?? {}).some(([k, v]) => live.metadata.annotations?.[k] !== v)
  );
}

/** The first load-balancer ingress address of a Service, if it has one. */
export function ingressHost(service: ServiceObject | undefined): string | undefined {
  const ingress = service?.status?.loadBalancer?.ingress?.[0];
  return ingress?.ip || ingress?.hostname || undefined;
}

/**
 * Where clients reach the cluster's listeners. With `--publish-service-address` the proxy
 * itself on the allocated ports; otherwise the Service's ClusterIP on 6443/80 (as Go does).
 */
export function endpointsFor(
  ports: Ports,
  publishAddress: string | undefined,
  clusterIP: string | undefined,
): { kubernetes: string; kubesphere: string } | undefined {
  const host = (h: string) => (h.includes(':') ? `[${h}]` : h);
  if (publishAddress) return { kubernetes: `https://${host(publishAddress)}:${ports.kube}`, kubesphere: `http://${host(publishAddress)}:${ports.ks}` };
  if (clusterIP && clusterIP !== 'None') return { kubernetes: `https://${host(clusterIP)}:6443`, kubesphere: `http://${host(clusterIP)}:80` };
  return undefined;
}

export function servedCluster(cluster: ClusterObject, ports: Ports, extraHosts: readonly string[]): ServedCluster | undefined {
  const token = cluster.spec?.connection?.token;
  if (!token) return undefined;
  return {
    name: cluster.metadata.name,
    token,
    kubernetesAPIServerPort: ports.kube,
    kubesphereAPIServerPort: ports.ks,
    extraHosts: [...new Set(extraHosts.filter(Boolean))],
  };
}
