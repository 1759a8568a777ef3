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

export function portsOf(cluster: ClusterObject): { kube: number; ks: number } | undefined {
  const kube = cluster.spec?.connection?.kubernetesAPIServerPort;
  const ks = cluster.spec?.connection?.kubesphereAPIServerPort;
  return kube && ks ? { kube, ks } : undefined;
}

/**
 * The lowest kube port in [6000, 7000] such that neither it nor its ks port (+10 000) is
 * taken by another cluster or by anything listening here. Undefined when none is left.
 */
export async function allocatePorts(
  taken: ReadonlySet<number>,
  isFree: (port: number) => Promise<boolean>,
): Promise<{ kube: number; ks: number } | undefined> {
  for (let kube = KUBE_PORT_MIN; kube <= KUBE_PORT_MAX; kube += 1) {
    const ks = kube + KS_PORT_OFFSET;
    if (taken.has(kube) || taken.has(ks)) continue;
    if ((await isFree(kube)) && (await isFree(ks))) return { kube, ks };
  }
  return undefined;
}

/** Every port claimed by a cluster other than `except`. */
export function takenPorts(clusters: Iterable<ClusterObject>, except: string): Set<number> {
  const taken = new Set<number>();
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
export function desiredService(cluster: ClusterObject, ports: { kube: number; ks: number }): ServiceObject {
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
  ports: { kube: number; ks: number },
  publishAddress: string | undefined,
  clusterIP: string | undefined,
): { kubernetes: string; kubesphere: string } | undefined {
  const host = (h: string) => (h.includes(':') ? `[${h}]` : h);
  if (publishAddress) return { kubernetes: `https://${host(publishAddress)}:${ports.kube}`, kubesphere: `http://${host(publishAddress)}:${ports.ks}` };
  if (clusterIP && clusterIP !== 'None') return { kubernetes: `https://${host(clusterIP)}:6443`, kubesphere: `http://${host(clusterIP)}:80` };
  return undefined;
}

export function servedCluster(cluster: ClusterObject, extraHosts: readonly string[]): ServedCluster | undefined {
  const ports = portsOf(cluster);
  const token = cluster.spec?.connection?.token;
  if (!ports || !token) return undefined;
  return {
    name: cluster.metadata.name,
    token,
    kubernetesAPIServerPort: ports.kube,
    kubesphereAPIServerPort: ports.ks,
    extraHosts: [...new Set(extraHosts.filter(Boolean))],
  };
}
