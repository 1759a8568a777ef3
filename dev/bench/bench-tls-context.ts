/**
 * A bench client's TLS material, parsed once per target, as kubectl and client-go do (their
 * tls.Config is built once per client). Handing ca/cert/key to every request instead makes
 * Node build a SecureContext per connection — parse the CA, certificate and key — which
 * measured 0.3 ms (a CA) and 1.0 ms (CA, certificate and key) of the client's own CPU on
 * this machine: part of every new-connection figure that no real client pays.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { LoadTarget } from './bench-load-target.js';

const contexts = new Map<string, SecureContext>();

/** `{ secureContext }` for a target with TLS material, `{}` for one without. */
export function clientTls(target: Pick<LoadTarget, 'ca' | 'cert' | 'key'>): { secureContext?: SecureContext } {
  const { ca, cert, key } = target;
  if (!ca && !cert && !key) return {};
  const id = [ca, cert, key].join('\0');
  let secureContext = contexts.get(id);
  if (!secureContext) {
    secureContext = createSecureContext({ ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) });
    contexts.set(id, secureContext);
  }
  return { secureContext };
}
