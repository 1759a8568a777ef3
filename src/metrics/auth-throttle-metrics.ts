/**
 * The failed-authentication throttle's metrics (src/actors/proxy/auth-throttle.ts), on a
 * registry of the caller's (the proxy's, served at /metrics on the agent port).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the throttle counts (its AuthThrottleCounters, which these prom-client counters fit). */
interface ThrottleCounters {
  readonly failures: Counter;
  readonly throttled: Counter<'action'>;
}

/** Counters already on a registry: a proxy restarted in one process (the soak) records into the same ones. */
const registered = new WeakMap<Registry, { counters: ThrottleCounters; tracked: { read: () => number } }>();

/** Register the throttle's metrics; `tracked` reads how many addresses it remembers. */
export function authThrottleMetrics(registry: Registry, tracked: () => number): ThrottleCounters {
  const known = registered.get(registry);
  if (known) {
    known.tracked.read = tracked;
    return known.counters;
  }
  const reader = { read: tracked };
  new Gauge({
    name: 'tower_proxy_auth_throttle_addresses',
    help: 'Source addresses (IPv6: /64 blocks) the failed-authentication throttle remembers.',
    registers: [registry],
    collect() {
      this.set(reader.read());
    },
  });
  const counters: ThrottleCounters = {
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
  registered.set(registry, { counters, tracked: reader });
  return counters;
}
