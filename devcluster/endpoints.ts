/**
 * Endpoints (`kubectl get endpoints`): stored as clients write them; there is no endpoints
 * controller (no pod ever runs). The `default/kubernetes` Endpoints is seeded with the
 * devcluster's own address once it listens, as a real apiserver maintains it.
 */
import type { KubeObject } from './types.js';
import { isObject } from './types.js';
import type { ObjectApi } from './objects.js';
import type { Registry } from './resources.js';

export function seedKubernetesEndpoints(objects: ObjectApi, registry: Registry, host: string, port: number): void {
  const type = registry.byGroupResource('', 'endpoints');
  if (!type) throw new Error('devcluster: built-in type endpoints missing');
  objects.create(type, 'v1', 'default', {
    metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: host }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
  } as unknown as KubeObject);
}

/** The ENDPOINTS column: `ip:port,…`, at most three and `+ N more...`, as kubectl prints it. */
export function endpointsColumn(o: KubeObject): string {
  const pairs: string[] = [];
  for (const subset of Array.isArray(o['subsets']) ? o['subsets'].filter(isObject) : []) {
    const ports = Array.isArray(subset['ports']) ? subset['ports'].filter(isObject) : [];
    const addresses = Array.isArray(subset['addresses']) ? subset['addresses'].filter(isObject) : [];
    for (const address of addresses) {
      if (ports.length === 0) pairs.push(String(address['ip']));
      for (const port of ports) pairs.push(`${String(address['ip'])}:${String(port['port'])}`);
    }
  }
  if (pairs.length === 0) return '<none>';
  return pairs.length > 3 ? `${pairs.slice(0, 3).join(',')} + ${pairs.length - 3} more...` : pairs.join(',');
}
