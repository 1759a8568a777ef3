/**
 * The proxy serving a given ClusterSource (the `--clusters` file, or anything a test
 * builds): bind, then serve. The Kubernetes mode is start-kube-proxy.ts.
 */
import type { ClusterSource } from '../../cluster-sources/cluster-source.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import type { DataPlanePool } from '../../workers/data-plane-pool.js';
import type { PkiPool } from '../../workers/pki-pool.js';
import type { ClusterGateway } from './cluster-gateway.js';
import type { ProxySession } from './proxy-session.js';
import { ProxyServer, type ProxyServerOptions } from './proxy-server.js';

export interface ProxyOptions extends ProxyServerOptions {
  readonly clusters: ClusterSource;
}

export interface ProxyHandle {
  readonly port: number;
  readonly pki: PkiPool;
  /** Live sessions, by id (for tests and metrics). */
  readonly sessions: ReadonlyMap<string, ProxySession>;
  readonly gateways: ReadonlyMap<string, ClusterGateway>;
  readonly metrics: ProxyMetrics;
  /** The data-plane worker threads, when `dataPlaneThreads` > 0. */
  readonly dataPlane: DataPlanePool | undefined;
  /** Called after any session or gateway changed state; returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Drain for up to `graceMs` (default 0: at once), then release everything. */
  stop(graceMs?: number): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<ProxyHandle> {
  const server = await ProxyServer.start(options);
  const serving = server.serve(options.clusters);
  return {
    port: server.port,
    pki: server.pki,
    sessions: serving.sessions,
    gateways: serving.gateways,
    metrics: server.metrics,
    dataPlane: server.dataPlane,
    onChange: (listener) => serving.onChange(listener),
    stop: async (graceMs = 0) => {
      await server.drain(graceMs);
      await server.stop();
    },
  };
}
