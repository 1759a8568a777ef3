import { isIP } from 'node:net';

/** DNS names every per-cluster serving certificate carries (docs/protocol.md §5). */
export const DEFAULT_SERVING_DNS_NAMES: readonly string[] = [
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
];

/** A subject alternative name, classified. */
export interface SubjectAltName {
  type: 'ip' | 'dns';
  value: string;
}

/**
 * Classify one host as an IP address or a DNS name, normalized: IPv6
 * brackets removed, DNS names lower-cased, a trailing dot dropped.
 * Throws on an empty or malformed host.
 */
export function classifyHost(host: string): SubjectAltName {
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const family = isIP(h);
  if (family === 4) return { type: 'ip', value: h };
  // The URL parser gives IPv6 its canonical text form ("::0001" → "::1").
  if (family === 6) return { type: 'ip', value: new URL(`http://[${h}]/`).hostname.slice(1, -1) };
  h = h.toLowerCase().replace(/\.$/, '');
  // RFC 1123 labels; a leading "*." wildcard is allowed.
  const label = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
  const name = new RegExp(`^(\\*\\.)?${label}(\\.${label})*$`);
  if (h.length === 0 || h.length > 253 || !name.test(h)) {
    throw new Error(`invalid host for a certificate: ${JSON.stringify(host)}; give a DNS name or an IP address`);
  }
  return { type: 'dns', value: h };
}

/**
 * The full SAN list of a serving certificate: the default kubernetes names
 * plus `extraHosts`, classified, de-duplicated, in a stable order.
 */
export function servingCertSans(extraHosts: readonly string[]): SubjectAltName[] {
  const seen = new Map<string, SubjectAltName>();
  for (const host of [...DEFAULT_SERVING_DNS_NAMES, ...extraHosts]) {
    const san = classifyHost(host);
    seen.set(`${san.type}:${san.value}`, san);
  }
  return [...seen.values()];
}

/** A canonical key for a set of extra hosts (order and duplicates don't matter). */
export function hostSetKey(extraHosts: readonly string[]): string {
  return servingCertSans(extraHosts)
    .map((s) => `${s.type}:${s.value}`)
    .sort()
    .join(',');
}
