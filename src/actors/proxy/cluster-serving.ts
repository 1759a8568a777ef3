/**
 * Serving the clusters of one ClusterSource: a gateway (listeners) per served cluster and
 * a session per agent connection, kept in step with the source. The proxy server starts
 * one when it serves (at start, or when it becomes the leader) and stops it when it stops
 * serving; the agent port and everything per process outlive it.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { createActor, type InspectionEvent } from 'xstate';
import type { ClusterSource, ClusterSourceEvent, ServedCluster } from '../../cluster-sources/cluster-source.js';
import type { Logger } from '../../log.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import type { IssuedCert } from '../../pki/issue.js';
import type { AgentArrival } from './agent-endpoint.js';
import type { AuthThrottle } from './auth-throttle.js';
import { ClusterGateway } from './cluster-gateway.js';
import { ProxySession, type SessionLimits } from './proxy-session.js';
import type { SshEngine } from './ssh-engine.js';
import type { ListenerLimits } from './proxy-defaults.js';
import { clusterGatewaysMachine } from '../../machines/cluster-gateways.js';

export interface ClusterServingOptions {
  readonly source: ClusterSource;
  readonly host: string;
  readonly caPem: string;
  readonly engine: SshEngine;
  readonly limits: SessionLimits & ListenerLimits;
  /** Failed authentications are counted here (and slow their address down). */
  readonly throttle?: AuthThrottle;
  readonly servingCert: (cluster: ServedCluster) => Promise<IssuedCert>;
  readonly forgetServingCert: (clusterName: string) => void;
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
  readonly inspect?: (event: InspectionEvent) => void;
}

export class ClusterServing {
  readonly sessions = new Map<string, ProxySession>();
  readonly gateways = new Map<string, ClusterGateway>();
  /** The gateways' actors are its children. */
  readonly #gatewayParent;
  readonly #options: ClusterServingOptions;
  readonly #changes = new EventEmitter();
  readonly #unsubscribe: () => void;
  #nextSession = 0;
  #stopping = false;

  constructor(options: ClusterServingOptions) {
    this.#options = options;
    this.#changes.setMaxListeners(0);
    this.#gatewayParent = createActor(clusterGatewaysMachine, { id: 'gateways', ...(options.inspect ? { inspect: options.inspect } : {}) }).start();
    this.#unsubscribe = options.source.subscribe((event) => this.#onClusterEvent(event));
    for (const cluster of options.source.snapshot().values()) this.#addGateway(cluster);
  }

  /** Called after any session or gateway changed; returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#changes.on('change', listener);
    return () => this.#changes.off('change', listener);
  }

  get channelsOpen(): number {
    let open = 0;
    for (const session of this.sessions.values()) open += session.openChannels;
    return open;
  }

  get clustersConnected(): number {
    let connected = 0;
    for (const gateway of this.gateways.values()) if (gateway.sessionCount > 0) connected += 1;
    return connected;
  }

  /** A new agent connection (the WebSocket as a byte stream). */
  acceptAgent(stream: Duplex, arrival: AgentArrival): void {
    if (this.#stopping) return void stream.destroy();
    const { remoteAddress } = arrival;
    const { logger, metrics, source } = this.#options;
    const id = `s${++this.#nextSession}`;
    const session = new ProxySession({
      id,
      stream,
      remoteAddress,
      engine: this.#options.engine,
      limits: this.#options.limits,
      verdictDelayMs: arrival.verdictDelayMs,
      ...(this.#options.throttle ? { throttle: this.#options.throttle } : {}),
      lookup: (name) => source.snapshot().get(name),
      logger: logger.child({ session: id }),
      ...(this.#options.inspect ? { inspect: this.#options.inspect } : {}),
      onServing: (s) => {
        arrival.authenticated();
        this.#sessionServing(s, remoteAddress);
      },
      onEnded: (s) => this.#sessionEnded(s),
    });
    this.sessions.set(id, session);
    // After each committed state: the session's own entry actions run before it is committed.
    session.actor.subscribe({ next: () => this.#changed(), error: () => undefined });
    void session.done.then(({ code, reason }) => {
      this.sessions.delete(id);
      if (code !== 'accepted') metrics.handshakes.inc({ result: code });
      const cluster = session.clusterName ?? session.attemptedCluster;
      if (code === 'wrong_token' && cluster) source.agentReport?.({ kind: 'rejected', cluster, remote: remoteAddress, reason });
      this.#changed();
    });
    session.start();
  }

  /**
   * Take no new agents or client connections, let requests in flight finish for up to
   * `graceMs` (watches end cleanly then), then end every session and listener.
   */
  async drain(graceMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.gateways.values()].map((g) => g.drain(graceMs)));
    await this.stop('proxy shutting down');
  }

  /** End every session and close every listener. */
  async stop(reason: string): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe();
    await Promise.all([...this.sessions.values()].map((s) => s.stop(reason)));
    await Promise.all([...this.gateways.values()].map((g) => g.remove()));
    this.gateways.clear();
    this.#gatewayParent.stop();
  }

  #sessionServing(session: ProxySession, remoteAddress: string): void {
    const name = session.clusterName;
    const cluster = name ? this.#options.source.snapshot().get(name) : undefined;
    const gateway = name ? this.gateways.get(name) : undefined;
    if (!cluster || !gateway) return void session.stop('cluster no longer served');
    this.#options.logger.info(
      { cluster: cluster.name, session: session.id, remote: remoteAddress, agentVersion: session.accepted?.config.version },
      'Agent connected',
    );
    this.#options.metrics.handshakes.inc({ result: 'accepted' });
    gateway.addSession(session);
    const source = this.#options.source;
    source.agentsChanged?.(cluster.name, gateway.sessionCount);
    source.agentReport?.({ kind: 'connected', cluster: cluster.name, remote: remoteAddress, version: session.accepted?.config.version });
    this.#changed();
  }

  #sessionEnded(session: ProxySession): void {
    const name = session.clusterName;
    const gateway = name ? this.gateways.get(name) : undefined;
    if (name && gateway) {
      gateway.removeSession(session);
      this.#options.source.agentsChanged?.(name, gateway.sessionCount);
      void session.done.then(({ reason }) => this.#options.source.agentReport?.({ kind: 'disconnected', cluster: name, reason }));
    }
    this.#changed();
  }

  #addGateway(cluster: ServedCluster): void {
    const { host, caPem, servingCert, logger, metrics, source, limits } = this.#options;
    const gateway = new ClusterGateway({
      cluster,
      limits,
      host,
      caPem,
      servingCert,
      logger,
      metrics,
      parent: this.#gatewayParent,
      onBindProblem: (name, problem) => source.bindChanged?.(name, problem),
    });
    this.gateways.set(cluster.name, gateway);
    gateway.actor.subscribe(() => this.#changed());
    this.#changed();
  }

  #onClusterEvent(event: ClusterSourceEvent): void {
    if (this.#stopping) return;
    if (event.type === 'cluster.upsert') {
      const gateway = this.gateways.get(event.cluster.name);
      if (!gateway) return this.#addGateway(event.cluster);
      if (gateway.cluster.token !== event.cluster.token) {
        // A new token invalidates the agents that proved the old one.
        this.#stopSessions(event.cluster.name, 'cluster token changed');
      }
      gateway.update(event.cluster);
      return;
    }
    const gateway = this.gateways.get(event.name);
    this.gateways.delete(event.name);
    this.#options.forgetServingCert(event.name);
    if (gateway) {
      void gateway.remove().then(() => this.#changed());
      this.#options.source.agentsChanged?.(event.name, 0);
    }
    this.#stopSessions(event.name, 'cluster removed');
  }

  #stopSessions(clusterName: string, reason: string): void {
    for (const session of this.sessions.values()) if (session.clusterName === clusterName) void session.stop(reason);
  }

  #changed(): void {
    this.#changes.emit('change');
  }
}
