/**
 * Whether the kubeconfig stored on a Cluster still fits, or a new one must be issued. Pure:
 * the controller reads the answer and acts. A kubeconfig is kept while it names the right
 * server and CA and its client certificate is not due for renewal (src/pki/renewal.ts), so
 * a steady state writes nothing, even when the CA is about to expire.
 */
import { X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { clusterBindingOf } from '../pki/cluster-binding.js';
import { freshNotAfter, shouldRenew } from '../pki/renewal.js';
import { DEFAULT_LEAF_VALIDITY_DAYS } from '../pki/validity.js';

export type KubeconfigReason = 'missing' | 'unreadable' | 'server-changed' | 'ca-changed' | 'unbound' | 'renewal';

export type KubeconfigDecision = { readonly issue: false } | { readonly issue: true; readonly reason: KubeconfigReason };

export interface KubeconfigWanted {
  /** The cluster its client certificate must be bound to (src/pki/cluster-binding.ts). */
  readonly cluster: string;
  /** The endpoint clients use (`kubernetesAPIEndpoint`). */
  readonly server: string;
  readonly caPem: string;
  readonly caNotAfter: Date;
  readonly now: Date;
  /** Lifetime of a fresh client certificate; default 365 days. */
  readonly validityDays?: number;
}

interface KubeconfigShape {
  clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string } }>;
  users?: Array<{ user?: { 'client-certificate-data'?: string } }>;
}

/** Decide about the stored kubeconfig (`spec.connection.kubeconfig`, base64). */
export function planKubeconfig(stored: string | undefined, wanted: KubeconfigWanted): KubeconfigDecision {
  if (!stored) return { issue: true, reason: 'missing' };
  let cert: X509Certificate;
  let config: KubeconfigShape;
  try {
    config = parseYaml(Buffer.from(stored, 'base64').toString('utf8')) as KubeconfigShape;
    const data = config.users?.[0]?.user?.['client-certificate-data'];
    if (!data) return { issue: true, reason: 'unreadable' };
    cert = new X509Certificate(Buffer.from(data, 'base64'));
  } catch {
    return { issue: true, reason: 'unreadable' };
  }
  const cluster = config.clusters?.[0]?.cluster;
  if (cluster?.server !== wanted.server) return { issue: true, reason: 'server-changed' };
  const ca = Buffer.from(cluster['certificate-authority-data'] ?? '', 'base64').toString('utf8');
  if (ca.trim() !== wanted.caPem.trim()) return { issue: true, reason: 'ca-changed' };
  // Kubeconfigs issued before certificates were bound to their cluster are reissued once.
  const binding = clusterBindingOf(new Uint8Array(cert.raw));
  if (binding.kind !== 'bound' || binding.cluster !== wanted.cluster) return { issue: true, reason: 'unbound' };
  const times = { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
  const fresh = freshNotAfter(wanted.now, wanted.validityDays ?? DEFAULT_LEAF_VALIDITY_DAYS, wanted.caNotAfter);
  return shouldRenew(times, fresh, wanted.now) ? { issue: true, reason: 'renewal' } : { issue: false };
}
