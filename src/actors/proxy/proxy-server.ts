/**
 * The proxy process's lasting parts: the agent port (bound first, before anything is read
 * or written elsewhere, so a failed start changes nothing outside the process), the SSH
 * host key, the PKI pool, the SSH engine and the metrics. It serves the clusters of one
 * ClusterSource at a time (`serve`), and can stop serving and keep the port (a standby
 * after a lost lease answers /livez and refuses agents with 503).
 */
import type { InspectionEvent } from 'xstate';
import type { ClusterSource, ServedCluster } from '../../cluster-sources/cluster-source.js';
import type { Logger } from '../../log.js';
import { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { ServingCertCache } from '../../pki/serving-cert-cache.js';
import { DataPlanePool } from '../../workers/data-plane-pool.js';
import { PkiPool } from '../../workers/pki-pool.js';
import { startAgentEndpoint, type AgentEndpoint } from './agent-endpoint.js';
import { ClusterServing } from './cluster-serving.js';
import { loadOrCreateHostKey } from './host-key.js';
import { PROXY_DEFAULTS, type ProxyLimits } from './proxy-defaults.js';
import { AuthThrottle } from './auth-throttle.js';
import { authThrottleMetrics } from '../../metrics/auth-throttle-metrics.js';
import { inlineEngine, type SshEngine } from './ssh-engine.js';
import { threadEngine } from './ssh-engine-threads.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ProxyServerOptions {
  readonly host: string;
  readonly port: number;
  /** Proxy CA (PEM); signs serving certificates and verifies clients of the kube listeners. */
  readonly ca: { readonly certPem: string; readonly keyPem: string };
  /** `--publish-service-address`: also put in every serving certificate. */
  readonly publishServiceAddress?: string;
  readonly hostKeyFile?: string;
  readonly logger: Logger;
  readonly inspect?: (event: InspectionEvent) => void;
  readonly limits?: Partial<ProxyLimits>;
  readonly pkiMode?: 'worker' | 'inline';
  /**
   * `--data-plane-threads N`: run agents' SSH sessions in N worker threads (round-robin);
   * 0 (the default) runs them on the main thread. See docs/performance.md.
   */
  readonly dataPlaneThreads?: number;
  /** Metrics to record into, kept across restarts (the soak); the server makes its own otherwise. */
  readonly metrics?: ProxyMetrics;
}

export class ProxyServer {
  readonly metrics: ProxyMetrics;
  readonly #options: ProxyServerOptions;
  #endpoint: AgentEndpoint | undefined;
  #pki: PkiPool | undefined;
  #dataPlane: DataPlanePool | undefined;
  #engine: SshEngine | undefined;
  #certs: ServingCertCache | undefined;
  #serving: ClusterServing | undefined;
  #draining = false;
  readonly #throttle: AuthThrottle;

  private constructor(options: ProxyServerOptions) {
    this.#options = options;

    this.metrics =
      options.metrics ??
      new ProxyMetrics({
        sessions: () => this.#serving?.sessions.size ?? 0,
        clustersConnected: () => this.#serving?.clustersConnected ?? 0,
        channelsOpen: () => this.#serving?.channelsOpen ?? 0,
      });
    this.#throttle = new AuthThrottle({
      logger: options.logger,
      counters: authThrottleMetrics(this.metrics.registry, () => this.#throttle.stats.tracked),
    });
  }

  /** Bind the agent port, then make the host key, the PKI pool and the SSH engine. Serves nothing yet. */
  static async start(options: ProxyServerOptions): Promise<ProxyServer> {
    const server = new ProxyServer(options);
    const limits = { ...PROXY_DEFAULTS, ...options.limits };
    const throttle = server.#throttle;
    server.#endpoint = await startAgentEndpoint({
      host: options.host,
      port: options.port,
      logger: options.logger,
      requestTimeoutMs: limits.requestTimeoutMs,
      maxUnauthenticated: limits.maxUnauthenticated,
      admit: (remote) => throttle.check(remote),
      agentHandler: () => (server.#serving && !server.#draining ? (stream, arrival) => server.#serving?.acceptAgent(stream, arrival) : undefined),
      ready: () => server.#serving !== undefined && !server.#draining,
      extraRoutes: metricsRoute(server.metrics),
    });
    try {
      const [hostKey, pki] = await Promise.all([
        loadOrCreateHostKey(options.hostKeyFile),
        PkiPool.create(options.ca, { mode: options.pkiMode ?? 'worker' }),
      ]);
      server.#pki = pki;
      const threads = options.dataPlaneThreads ?? 0;
      if (threads > 0) server.#dataPlane = await DataPlanePool.start({ threads, logger: options.logger });
      const spec = { hostKey, keepaliveIntervalMs: limits.keepaliveIntervalMs, keepaliveCountMax: limits.keepaliveCountMax };
      server.#engine = server.#dataPlane ? threadEngine(server.#dataPlane, spec) : inlineEngine(spec);
      server.#certs = new ServingCertCache(pki);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get port(): number {
    return this.#endpoint!.port;
  }
  get pki(): PkiPool {
    return this.#pki!;
  }
  get dataPlane(): DataPlanePool | undefined {
    return this.#dataPlane;
  }
  /** What is served now (undefined on a standby). */
  get serving(): ClusterServing | undefined {
    return this.#serving;
  }

  /** Serve the clusters of `source` (one source at a time). */
  serve(source: ClusterSource): ClusterServing {
    if (this.#serving) throw new Error('already serving');
    const options = this.#options;
    const certs = this.#certs!;
    const servingHosts = (cluster: ServedCluster) => [
      ...new Set([
        'localhost',
        '127.0.0.1',
        ...(options.publishServiceAddress ? [options.publishServiceAddress] : []),
        ...(cluster.extraHosts ?? []),
      ]),
    ];
    this.#serving = new ClusterServing({
      source,
      host: options.host,
      caPem: this.pki.caPem,
      engine: this.#engine!,
      limits: { ...PROXY_DEFAULTS, ...options.limits },
      throttle: this.#throttle,
      servingCert: (cluster) => certs.get(cluster.name, servingHosts(cluster)),
      forgetServingCert: (name) => certs.delete(name),
      metrics: this.metrics,
      logger: options.logger,
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    return this.#serving;
  }

  /** Stop serving: end every session and close every cluster listener; the agent port stays. */
  async unserve(reason: string): Promise<void> {
    const serving = this.#serving;
    this.#serving = undefined;
    await serving?.stop(reason);
  }

  /**
   * Graceful stop of what is served: /readyz turns 503 and new agents are refused at once;
   * requests in flight get up to `graceMs` to finish; then every session and listener ends.
   */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    const serving = this.#serving;
    this.#serving = undefined;
    await serving?.drain(graceMs);
  }

  /** Stop serving and release everything: the agent port, the worker threads. */
  async stop(): Promise<void> {
    await this.#endpoint?.close();
    await this.unserve('proxy stopping');
    await this.#dataPlane?.stop();
    await this.#pki?.destroy();
    this.#throttle.stop();
  }
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
