/**
 * The cluster binding of a client's certificate (src/pki/cluster-binding.ts), read once per
 * certificate: a kubectl opens many connections with the same one, and parsing X.509 on
 * each would add to every new connection's first byte.
 */
import type { PeerCertificate } from 'node:tls';
import { clusterBindingOf, type ClusterBinding } from '../../pki/cluster-binding.js';

/** Certificates remembered (least recently read dropped first). */
const REMEMBERED = 1024;
const bindings = new Map<string, ClusterBinding>();

export function certificateBinding(peer: PeerCertificate): ClusterBinding {
  const key = peer.fingerprint256;
  const known = bindings.get(key);
  if (known) {
    bindings.delete(key); // most recently read last
    bindings.set(key, known);
    return known;
  }
  const binding: ClusterBinding = peer.raw ? clusterBindingOf(peer.raw) : { kind: 'malformed', reason: 'no peer certificate' };
  bindings.set(key, binding);
  if (bindings.size > REMEMBERED) bindings.delete(bindings.keys().next().value!);
  return binding;
}
