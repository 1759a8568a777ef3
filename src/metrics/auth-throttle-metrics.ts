/**
 * The failed-authentication throttle's metrics (src/actors/proxy/auth-throttle.ts), on a
 * registry of the caller's (the proxy's, served at /metrics on the agent port).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuthThrottleCounters } from '../actors/proxy/auth-throttle.js';

/** Register the throttle's metrics; `tracked` reads how many addresses it remembers. */
export function authThrottleMetrics(registry: Registry, tracked: () => number): AuthThrottleCounters {
  new Gauge({
    name: 'tower_proxy_auth_throttle_addresses',
    help: 'Source addresses (IPv6: /64 blocks) the failed-authentication throttle remembers.',
    registers: [registry],
    collect() {
      this.set(tracked());
    },
  });
  return {
    failures: new Counter({
      name: 'tower_proxy_auth_failures_total',
      help: 'Agent authentications that failed (wrong token or unknown cluster).',
      registers: [registry],
    }),
    throttled: new Counter({
      name: 'tower_proxy_auth_throttled_total',
      help: 'Agent attempts the throttle slowed down (action="delayed") or refused outright (action="refused").',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
  };
}
