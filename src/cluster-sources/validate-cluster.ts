/**
 * Checks one Cluster object (docs/protocol.md §6) from the `--clusters` file and reduces it to
 * what the tunnel serves. Only `spec.connection.type: proxy` clusters are served, and not
 * when `spec.joinFederation` is explicitly false or the object is being deleted; the
 * others are skipped, as the Go controller tears their tunnels down.
 * Messages never contain the token.
 */
import type { ServedCluster } from './cluster-source.js';
import type { LocatedObject } from './cluster-documents.js';
import { ClusterFileProblem, describeValue } from './cluster-file-error.js';

export const CLUSTER_API_VERSION = 'cluster.kubesphere.io/v1alpha1';
export const CLUSTER_KIND = 'Cluster';

export type ValidatedObject =
  | { readonly served: true; readonly cluster: ServedCluster }
  | { readonly served: false; readonly name: string; readonly reason: string };

/** Kubernetes' IsDNS1123Subdomain: at most 253 chars of dot-separated DNS-1123 labels. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

const PORT_FIXES = {
  kubernetesAPIServerPort: "the proxy's HTTPS port for this cluster's kube-apiserver",
  kubesphereAPIServerPort: "the proxy's HTTP port for this cluster's ks-apiserver",
} as const;

/** "object #2 (line 9, name "beta")" */
export function locateObject(object: LocatedObject, name?: unknown): string {
  const parts: string[] = [];
  if (object.line !== undefined) parts.push(`line ${object.line}`);
  if (typeof name === 'string') parts.push(`name ${describeValue(name)}`);
  return parts.length > 0 ? `object #${object.index} (${parts.join(', ')})` : `object #${object.index}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isValidClusterName(name: string): boolean {
  return name.length <= DNS1123_SUBDOMAIN_MAX_LENGTH && DNS1123_SUBDOMAIN.test(name);
}

export function validateClusterObject(object: LocatedObject): ValidatedObject {
  const value = object.value;
  const fail = (name: unknown, message: string): never => {
    throw new ClusterFileProblem(locateObject(object, name), message);
  };
  if (!isRecord(value)) {
    return fail(undefined, `is ${describeValue(value)}, not an object; each entry must be a Cluster object`);
  }
  const metadata = value['metadata'];
  const rawName = isRecord(metadata) ? metadata['name'] : undefined;
  if (value['apiVersion'] !== CLUSTER_API_VERSION) {
    fail(rawName, `apiVersion is ${describeValue(value['apiVersion'])}; set apiVersion: ${CLUSTER_API_VERSION}`);
  }
  if (value['kind'] !== CLUSTER_KIND) {
    fail(rawName, `kind is ${describeValue(value['kind'])}; set kind: ${CLUSTER_KIND}`);
  }
  if (!isRecord(metadata)) {
    return fail(undefined, `metadata is ${describeValue(metadata)}; add metadata with a name`);
  }
  if (typeof rawName !== 'string' || rawName === '') {
    return fail(undefined, `metadata.name is ${describeValue(rawName)}; set it to the cluster's name (the agent's --name)`);
  }
  if (!isValidClusterName(rawName)) {
    fail(
      rawName,
      `metadata.name ${describeValue(rawName)} is not a DNS-1123 subdomain; use at most 253 lowercase ` +
        "letters, digits, '-' and '.', starting and ending with a letter or digit",
    );
  }
  const name = rawName;

  const spec = value['spec'] ?? {};
  if (!isRecord(spec)) return fail(name, `spec is ${describeValue(spec)}, not an object; write spec as a mapping`);
  const connection = spec['connection'] ?? {};
  if (!isRecord(connection)) {
    return fail(name, `spec.connection is ${describeValue(connection)}, not an object; write it as a mapping`);
  }
  const type = connection['type'];
  if (type !== undefined && typeof type !== 'string') {
    fail(name, `spec.connection.type is ${describeValue(type)}; set it to proxy (or direct for a cluster this proxy does not serve)`);
  }
  const joinFederation = spec['joinFederation'];
  if (joinFederation !== undefined && typeof joinFederation !== 'boolean') {
    fail(name, `spec.joinFederation is ${describeValue(joinFederation)}; set it to true or false`);
  }
  if (type !== 'proxy') {
    return { served: false, name, reason: `spec.connection.type is ${describeValue(type)}, not "proxy"` };
  }
  if (joinFederation === false) return { served: false, name, reason: 'spec.joinFederation is false' };
  if (metadata['deletionTimestamp'] !== undefined && metadata['deletionTimestamp'] !== null) {
    return { served: false, name, reason: 'metadata.deletionTimestamp is set' };
  }

  const token = connection['token'];
  const tokenFix = "set it to the secret the agent passes as --token (e.g. the output of 'openssl rand -hex 32')";
  if (token === undefined || token === null) fail(name, `spec.connection.token is missing; ${tokenFix}`);
  if (typeof token !== 'string') return fail(name, `spec.connection.token is not a string; quote it`);
  if (token.trim() === '') fail(name, `spec.connection.token is empty; ${tokenFix}`);
  if (token.trim() !== token) fail(name, 'spec.connection.token has leading or trailing whitespace; remove it');

  const port = (field: keyof typeof PORT_FIXES): number => {
    const raw = connection[field];
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 65535) {
      fail(name, `spec.connection.${field} is ${describeValue(raw)}; set it to an integer from 1 to 65535 (${PORT_FIXES[field]})`);
    }
    return raw as number;
  };
  const kubernetesAPIServerPort = port('kubernetesAPIServerPort');
  const kubesphereAPIServerPort = port('kubesphereAPIServerPort');
  if (kubernetesAPIServerPort === kubesphereAPIServerPort) {
    fail(
      name,
      `spec.connection.kubernetesAPIServerPort and kubesphereAPIServerPort are both ${kubernetesAPIServerPort}; ` +
        'give them different ports (KubeSphere uses the kube port + 10000)',
    );
  }

  const extraHosts: string[] = [];
  for (const field of ['kubernetesAPIEndpoint', 'externalKubernetesAPIEndpoint'] as const) {
    const endpoint = connection[field];
    if (endpoint === undefined || endpoint === null || endpoint === '') continue;
    const host = typeof endpoint === 'string' ? endpointHost(endpoint) : undefined;
    if (host === undefined) {
      fail(name, `spec.connection.${field} is ${describeValue(endpoint)}, not an http(s) URL with a host; fix it or remove it`);
    } else if (!extraHosts.includes(host)) {
      extraHosts.push(host);
    }
  }

  const cluster: ServedCluster = {
    name,
    token,
    kubernetesAPIServerPort,
    kubesphereAPIServerPort,
    ...(extraHosts.length > 0 ? { extraHosts: Object.freeze(extraHosts) } : {}),
  };
  return { served: true, cluster: Object.freeze(cluster) };
}

/** Host of an http(s) endpoint URL, without IPv6 brackets; undefined if not such a URL. */
function endpointHost(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') return undefined;
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}
