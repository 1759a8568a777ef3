/**
 * Prometheus metrics of the proxy, on its agent port at `GET /metrics`. A registry per
 * proxy (not the global one), so several proxies in one process (tests) stay apart.
 * Gauges that mirror live state are collected when scraped, not kept in step by hand.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { exposition } from './process-metrics.js';

export interface ProxyState {
  sessions(): number;
  clustersConnected(): number;
  channelsOpen(): number;
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly handshakes = new Counter({
    name: 'tower_proxy_handshakes_total',
    help: 'Agent sessions that reached a verdict, by result (accepted, or why not).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 'tower_proxy_bytes_total',
    help: 'Bytes carried through the tunnel, by direction (to_member, from_member) and listener.',
    labelNames: ['direction', 'listener'] as const,
    registers: [this.registry],
  });
  readonly clientConnections = new Counter({
    name: 'tower_proxy_client_connections_total',
    help: 'Client connections to the cluster listeners (on the kube listener: once TLS is done), by listener and protocol (h2, http/1.1).',
    labelNames: ['listener', 'protocol'] as const,
    registers: [this.registry],
  });
  readonly requests = new Histogram({
    name: 'tower_proxy_request_duration_seconds',
    help: 'Time from a request to its response headers (or failure), by listener and status class.',
    labelNames: ['listener', 'code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'tower_controller_reconciles_total',
    help: 'Cluster reconciles, by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: 'tower_controller_writes_total',
    help: 'Writes the controller made to the API server, by resource (cluster, cluster-status, service, lease, event), cluster and reason. 0 in a steady state.',
    labelNames: ['resource', 'cluster', 'reason'] as const,
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'tower_controller_events_dropped_total',
    help: 'Kubernetes Events not written because of the rate limit.',
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'tower_watch_restarts_total',
    help: 'Times a Kubernetes watch listed again (410 Expired or an error), by resource.',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  constructor(state: ProxyState) {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('tower_proxy_sessions', 'Agent sessions open (any state).', () => state.sessions());
    gauge('tower_proxy_clusters_connected', 'Clusters with at least one serving agent.', () => state.clustersConnected());
    gauge('tower_proxy_channels_open', 'Tunnel channels open.', () => state.channelsOpen());
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await exposition(this.registry) };
  }
}
