/**
 * Client certificates bound to one cluster. A certificate the proxy issues for cluster X
 * carries the URI `urn:kubesphere:tower:cluster:X` among its subject alternative names;
 * X's kube listener admits it, other clusters' listeners do not. A certificate without
 * such a URI is unbound (made by whoever holds the CA key, e.g. with openssl as in the
 * README) and is admitted everywhere, as before.
 *
 * Why a SAN URI: the subject stays CN=kubernetes-admin, O=system:masters as the Go tower
 * issues it (clients and tools that read the subject see no change); SANs are the X.509
 * place for extra identities (RFC 5280 §4.2.1.6) and URIs there are what SPIFFE and
 * service meshes use; cluster names are DNS-1123 subdomains, so they fit a URN without
 * escaping; the Go proxy ignores the extension, so kubeconfigs stay usable with it.
 */
import { isValidClusterName } from '../cluster-sources/validate-cluster.js';
import { x509 } from './x509.js';

/** Prefix of the binding URI; the cluster name follows it. */
export const CLUSTER_URI_PREFIX = 'urn:kubesphere:tower:cluster:';

/** The SAN URI that binds a client certificate to `cluster`. Throws on a name Kubernetes would not accept. */
export function clusterBindingUri(cluster: string): string {
  if (!isValidClusterName(cluster)) throw new Error(`cannot bind a certificate to ${JSON.stringify(cluster)}: not a valid cluster name`);
  return `${CLUSTER_URI_PREFIX}${cluster}`;
}

/** What a client certificate says about the cluster it is for. */
export type ClusterBinding =
  | { readonly kind: 'bound'; readonly cluster: string }
  | { readonly kind: 'unbound' }
  /** Carries a binding that cannot be honoured (bad name, two clusters, unreadable): refuse it everywhere. */
  | { readonly kind: 'malformed'; readonly reason: string };

/**
 * A certificate as DER bytes, as PEM text, or anything with its DER in `raw` — what
 * `tlsSocket.getPeerCertificate()` and node:crypto's X509Certificate return.
 */
export type CertificateInput = Uint8Array | string | { readonly raw: Uint8Array };

/** Read the binding of a (peer) certificate. Never throws. */
export function clusterBindingOf(certificate: CertificateInput): ClusterBinding {
  let san: x509.SubjectAlternativeNameExtension | null;
  try {
    const source = typeof certificate === 'string' ? certificate : new Uint8Array(certificate instanceof Uint8Array ? certificate : certificate.raw);
    san = new x509.X509Certificate(source).getExtension(x509.SubjectAlternativeNameExtension);
  } catch (error) {
    return { kind: 'malformed', reason: `certificate or its subject alternative names do not parse (${firstLine(error)})` };
  }
  const prefix = CLUSTER_URI_PREFIX;
  const clusters = new Set<string>();
  for (const name of san?.names.items ?? []) {
    if (name.type !== 'url' || name.value.slice(0, prefix.length).toLowerCase() !== prefix) continue;
    const cluster = name.value.slice(prefix.length);
    if (!isValidClusterName(cluster)) return { kind: 'malformed', reason: `binding URI names ${JSON.stringify(cluster)}, not a valid cluster name` };
    clusters.add(cluster);
  }
  if (clusters.size > 1) return { kind: 'malformed', reason: `bound to more than one cluster (${[...clusters].join(', ')})` };
  const [cluster] = clusters;
  return cluster === undefined ? { kind: 'unbound' } : { kind: 'bound', cluster };
}

/** A listener of `cluster` admits certificates bound to it and unbound ones. */
export function admitsCluster(binding: ClusterBinding, cluster: string): boolean {
  return binding.kind === 'unbound' || (binding.kind === 'bound' && binding.cluster === cluster);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200);
}
