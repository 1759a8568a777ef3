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
import { X509Certificate } from 'node:crypto';
import { isValidClusterName } from '../cluster-sources/validate-cluster.js';

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

/** An X509Certificate handed in is used as it is: no copy of its DER, no second parse. */
function x509Of(certificate: CertificateInput): X509Certificate {
  if (certificate instanceof X509Certificate) return certificate;
  return new X509Certificate(typeof certificate === 'string' || certificate instanceof Uint8Array ? certificate : certificate.raw);
}

/** Read the binding of a (peer) certificate. Never throws. */
export function clusterBindingOf(certificate: CertificateInput): ClusterBinding {
  let names: SubjectAltName[] | undefined;
  try {
    const san = x509Of(certificate).subjectAltName;
    names = san === undefined ? [] : parseSubjectAltNames(san);
  } catch (error) {
    return { kind: 'malformed', reason: `certificate or its subject alternative names do not parse (${firstLine(error)})` };
  }
  if (!names) return { kind: 'malformed', reason: 'certificate or its subject alternative names do not parse' };
  const prefix = CLUSTER_URI_PREFIX;
  const clusters = new Set<string>();
  for (const name of names) {
    if (name.type !== 'URI' || name.value.slice(0, prefix.length).toLowerCase() !== prefix) continue;
    const cluster = name.value.slice(prefix.length);
    if (!isValidClusterName(cluster)) return { kind: 'malformed', reason: `binding URI names ${JSON.stringify(cluster)}, not a valid cluster name` };
    clusters.add(cluster);
  }
  if (clusters.size > 1) return { kind: 'malformed', reason: `bound to more than one cluster (${[...clusters].join(', ')})` };
  const [cluster] = clusters;
  return cluster === undefined ? { kind: 'unbound' } : { kind: 'bound', cluster };
}

interface SubjectAltName {
  readonly type: string;
  readonly value: string;
}

/**
 * node:crypto's `subjectAltName` text (OpenSSL's, read natively: no X.509 library on the
 * proxy's main thread): `TYPE:value` entries joined by ", ", where a value that holds a
 * comma, a quote or a non-ASCII character is a JSON string (Node escapes them so no value
 * can pose as another entry). Undefined when the text does not follow that form.
 */
export function parseSubjectAltNames(text: string): SubjectAltName[] | undefined {
  const names: SubjectAltName[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) return undefined;
    const type = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (end >= text.length) return undefined;
      end += 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string;
      } catch {
        return undefined;
      }
    } else {
      const comma = text.indexOf(', ', colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    names.push({ type, value });
    if (end === text.length) break;
    if (!text.startsWith(', ', end)) return undefined;
    at = end + 2;
  }
  return names;
}

/** A listener of `cluster` admits certificates bound to it and unbound ones. */
export function admitsCluster(binding: ClusterBinding, cluster: string): boolean {
  return binding.kind === 'unbound' || (binding.kind === 'bound' && binding.cluster === cluster);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200);
}
