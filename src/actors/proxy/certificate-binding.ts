/**
 * The cluster binding of a client's certificate (src/pki/cluster-binding.ts), read once per
 * certificate: a kubectl opens many connections with the same one, and parsing X.509 on
 * each would add to every new connection's first byte. It takes the socket's
 * `getPeerX509Certificate()`: 3–4 µs against 23–30 µs (warm; ~90 µs in a busy proxy's
 * profile) for `getPeerCertificate()`, which builds every field and three fingerprints.
 */
import type { X509Certificate } from 'node:crypto';
import { clusterBindingOf, type ClusterBinding } from '../../pki/cluster-binding.js';

/** Certificates remembered (least recently read dropped first). */
const REMEMBERED = 1024;
const bindings = new Map<string, ClusterBinding>();

export function certificateBinding(peer: X509Certificate | undefined): ClusterBinding {
  if (!peer) return { kind: 'malformed', reason: 'no peer certificate' };
  const key = peer.fingerprint256;
  const known = bindings.get(key);
  if (known) {
    bindings.delete(key); // most recently read last
    bindings.set(key, known);
    return known;
  }
  const binding = clusterBindingOf(peer);
  bindings.set(key, binding);
  if (bindings.size > REMEMBERED) bindings.delete(bindings.keys().next().value!);
  return binding;
}
