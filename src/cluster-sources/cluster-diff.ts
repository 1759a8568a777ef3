/** The events that turn one set of served clusters into another. */
import type { ClusterSourceEvent, ServedCluster } from './cluster-source.js';

/** True when every field the tunnel uses is the same. */
export function sameCluster(a: ServedCluster, b: ServedCluster): boolean {
  const hostsA = a.extraHosts ?? [];
  const hostsB = b.extraHosts ?? [];
  return (
    a.name === b.name &&
    a.token === b.token &&
    a.kubernetesAPIServerPort === b.kubernetesAPIServerPort &&
    a.kubesphereAPIServerPort === b.kubesphereAPIServerPort &&
    hostsA.length === hostsB.length &&
    hostsA.every((host, i) => host === hostsB[i])
  );
}

/**
 * Removals first (in `previous` order), then upserts for new or changed clusters (in
 * `next` order), so a port freed by a removed cluster is free before a new one wants it.
 * Empty when nothing differs.
 */
export function diffClusters(
  previous: ReadonlyMap<string, ServedCluster>,
  next: ReadonlyMap<string, ServedCluster>,
): ClusterSourceEvent[] {
  const events: ClusterSourceEvent[] = [];
  for (const name of previous.keys()) {
    if (!next.has(name)) events.push({ type: 'cluster.remove', name });
  }
  for (const [name, cluster] of next) {
    const before = previous.get(name);
    if (!before || !sameCluster(before, cluster)) events.push({ type: 'cluster.upsert', cluster });
  }
  return events;
}
