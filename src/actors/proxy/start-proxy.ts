/**
 * The proxy: the agent endpoint, one session actor per agent, one gateway actor per
 * cluster with connected agents, fed by a ClusterSource (the `--clusters` file now, the
 * Kubernetes Cluster watch later).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../../log.js';
import type { IssuedCert } from '../../pki/issue.js';
import { ServingCertCache } from '../../pki/serving-cert-cache.js';
import { CONFIG_TIMEOUT_MS } from '../../protocol/constants.js';
import type { ClusterSource, ClusterSourceEvent, ServedCluster } from '../../cluster-sources/cluster-source.js';
import { PkiPool } from '../../workers/pki-pool.js';
import { SshWorkerPool } from '../../workers/ssh-worker-pool.js';
import { startAgentEndpoint, type AgentEndpoint } from './agent-endpoint.js';
import { ClusterGateway } from './cluster-gateway.js';
import { checkAgentConfig } from './config-check.js';
import { loadOrCreateHostKey } from './host-key.js';
import { ProxySession, type SessionEngine } from './proxy-session.js';
import { handshakeResult } from './handshake-result.js';
import { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ProxyOptions {
  readonly host: string;
  readonly port: number;
  /** Proxy CA (PEM); signs serving certificates and verifies clients of the kube listener. */
  readonly ca: { readonly certPem: string; readonly keyPem: string };
  readonly clusters: ClusterSource;
  /** `--publish-service-address`: also put in every serving certificate. */
  readonly publishServiceAddress?: string;
  readonly hostKeyFile?: string;
  readonly logger: Logger;
  readonly inspect?: (event: InspectionEvent) => void;
  /** Dead-agent detection: SSH keepalive every interval, give up after count misses. */
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveCountMax?: number;
  readonly configTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly pkiMode?: 'worker' | 'inline';
  /** A pool to share (e.g. with the cluster controller); otherwise the proxy makes its own. */
  readonly pki?: PkiPool;
  /** Metrics to record into (shared with the cluster controller); the proxy makes its own otherwise. */
  readonly metrics?: ProxyMetrics;
  /** Told whenever the number of serving agents of a cluster changes. */
  readonly onAgentsChanged?: (clusterName: string, count: number) => void;
  /**
   * `--data-plane-threads N`: run agents' SSH sessions in N worker threads (round-robin);
   * 0 (the default) runs them on the main thread. See docs/performance.md.
   */
  readonly dataPlaneThreads?: number;
}

export interface ProxyHandle {
  readonly port: number;
  readonly pki: PkiPool;
  /** Live sessions, by id (for tests and metrics). */
  readonly sessions: ReadonlyMap<string, ProxySession>;
  readonly gateways: ReadonlyMap<string, ClusterGateway>;
  readonly metrics: ProxyMetrics;
  /** The data-plane worker threads, when `dataPlaneThreads` > 0. */
  readonly dataPlane: SshWorkerPool | undefined;
  /** Called after any session or gateway changed state; returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  stop(): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<ProxyHandle> {
  const log = options.logger;
  const [hostKey, pki] = await Promise.all([
    loadOrCreateHostKey(options.hostKeyFile),
    options.pki ?? PkiPool.create(options.ca, { mode: options.pkiMode ?? 'worker' }),
  ]);
  const threads = options.dataPlaneThreads ?? 0;
  let dataPlane: SshWorkerPool | undefined;
  try {
    dataPlane = threads > 0 ? await SshWorkerPool.start({ threads, logger: log }) : undefined;
  } catch (error) {
    if (!options.pki) await pki.destroy();
    throw error;
  }
  const engine: SessionEngine = dataPlane ? { kind: 'worker', pool: dataPlane } : { kind: 'inline' };
  const certs = new ServingCertCache(pki);
  const servingHosts = (cluster: ServedCluster) =>
    [...new Set(['localhost', '127.0.0.1', ...(options.publishServiceAddress ? [options.publishServiceAddress] : []), ...(cluster.extraHosts ?? [])])];
  const servingCert = (cluster: ServedCluster): Promise<IssuedCert> => certs.get(cluster.name, servingHosts(cluster));

  const sessions = new Map<string, ProxySession>();
  const gateways = new Map<string, ClusterGateway>();
  const metrics =
    options.metrics ??
    new ProxyMetrics({
      sessions: () => sessions.size,
      clustersConnected: () => [...gateways.values()].filter((g) => g.sessionCount > 0).length,
      channelsOpen: () => [...sessions.values()].reduce((n, s) => n + s.openChannels, 0),
    });
  let nextSession = 0;
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const changed = () => changes.emit('change');
  let stopping = false;

  const gatewayFor = (cluster: ServedCluster): ClusterGateway => {
    let gateway = gateways.get(cluster.name);
    if (!gateway) {
      gateway = new ClusterGateway({
        cluster,
        host: options.host,
        caPem: pki.caPem,
        servingCert,
        logger: log,
        metrics,
        ...(options.inspect ? { inspect: options.inspect } : {}),
      });
      gateways.set(cluster.name, gateway);
      gateway.actor.subscribe(changed);
    }
    return gateway;
  };

  const onAgent = (stream: Duplex, remoteAddress: string) => {
    if (stopping) return void stream.destroy();
    const id = `s${++nextSession}`;
    const session = new ProxySession({
      id,
      stream,
      remoteAddress,
      hostKey,
      logger: log.child({ session: id }),
      verify: (config) => checkAgentConfig(config, (name) => options.clusters.snapshot().get(name)),
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 30_000,
      configTimeoutMs: options.configTimeoutMs ?? CONFIG_TIMEOUT_MS,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      channelOpenTimeoutMs: 15_000,
      engine,
      ...(options.inspect ? { inspect: options.inspect } : {}),
      onServing: (s) => {
        const cluster = s.clusterName ? options.clusters.snapshot().get(s.clusterName) : undefined;
        if (!cluster) return void s.stop('cluster no longer served');
        log.info({ cluster: cluster.name, session: s.id, remote: remoteAddress, agentVersion: s.config?.version }, 'Agent connected');
        metrics.handshakes.inc({ result: 'accepted' });
        const gateway = gatewayFor(cluster);
        gateway.addSession(s);
        options.onAgentsChanged?.(cluster.name, gateway.sessionCount);
        changed();
      },
      onEnded: (s) => {
        const gateway = s.clusterName ? gateways.get(s.clusterName) : undefined;
        if (gateway && s.clusterName) {
          gateway.removeSession(s);
          options.onAgentsChanged?.(s.clusterName, gateway.sessionCount);
        }
        changed();
      },
    });
    sessions.set(id, session);
    void session.done.then(() => {
      sessions.delete(id);
      if (!session.clusterName) metrics.handshakes.inc({ result: handshakeResult(session.actor.getSnapshot().context.reason) });
      changed();
    });
    session.start();
  };

  const onClusterEvent = (event: ClusterSourceEvent) => {
    if (event.type === 'cluster.upsert') {
      const gateway = gateways.get(event.cluster.name);
      if (!gateway) return;
      const before = gateway.cluster;
      if (before.token !== event.cluster.token) {
        // A new token invalidates the agents that proved the old one.
        for (const s of sessions.values()) if (s.clusterName === event.cluster.name) void s.stop('cluster token changed');
      }
      gateway.update(event.cluster);
      return;
    }
    const gateway = gateways.get(event.name);
    gateways.delete(event.name);
    certs.delete(event.name);
    if (gateway) {
      void gateway.remove();
      options.onAgentsChanged?.(event.name, 0);
    }
    for (const s of sessions.values()) if (s.clusterName === event.name) void s.stop('cluster removed');
  };
  const unsubscribe = options.clusters.subscribe(onClusterEvent);

  let endpoint: AgentEndpoint;
  try {
    endpoint = await startAgentEndpoint({ host: options.host, port: options.port, logger: log, onAgent, extraRoutes: metricsRoute(metrics) });
  } catch (error) {
    unsubscribe();
    await dataPlane?.stop();
    if (!options.pki) await pki.destroy();
    throw error;
  }

  return {
    port: endpoint.port,
    pki,
    sessions,
    gateways,
    metrics,
    dataPlane,
    onChange: (listener) => {
      changes.on('change', listener);
      return () => changes.off('change', listener);
    },
    stop: async () => {
      stopping = true;
      unsubscribe();
      await endpoint.close();
      await Promise.all([...sessions.values()].map((s) => s.stop('proxy stopping')));
      await Promise.all([...gateways.values()].map((g) => g.remove()));
      gateways.clear();
      await dataPlane?.stop();
      if (!options.pki) await pki.destroy();
    },
  };
}

/** `GET /metrics` on the agent port. */
function metricsRoute(metrics: ProxyMetrics) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' || req.url !== '/metrics') return false;
    metrics.text().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      () => res.writeHead(500).end(),
    );
    return true;
  };
}
