/**
 * The listeners of one member cluster: HTTPS for its kube-apiserver (client certificates
 * signed by the proxy CA required) and HTTP for its ks-apiserver, both bound to `--host`.
 * The cluster-gateway machine decides when they open and close; this gives it the I/O
 * and picks a session per request, round-robin over the live ones.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createActor, fromPromise, type InspectionEvent } from 'xstate';
import type { Logger } from '../../log.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { clusterGatewayMachine } from '../../machines/cluster-gateway.js';
import type { ServedCluster } from '../../cluster-sources/cluster-source.js';
import type { IssuedCert } from '../../pki/issue.js';
import type { ProxySession } from './proxy-session.js';
import { createReverseProxy, type Upstream } from './reverse-proxy.js';
import { TunnelHttpAgent, TunnelHttpsAgent } from './upstream-agents.js';

export interface ClusterGatewayOptions {
  readonly cluster: ServedCluster;
  readonly host: string;
  readonly caPem: string;
  readonly servingCert: (cluster: ServedCluster) => Promise<IssuedCert>;
  readonly logger: Logger;
  readonly metrics?: ProxyMetrics;
  readonly inspect?: (event: InspectionEvent) => void;
}

interface SessionUpstreams {
  readonly session: ProxySession;
  readonly kubernetes: Upstream;
  readonly kubesphere: Upstream;
}

/**
 * The machine with its I/O, made once: a provided machine per cluster costs ~17 KB of
 * state nodes. Each actor finds its gateway by the `key` in its input.
 */
const live = new Map<string, ClusterGateway>();
let nextKey = 0;
const gatewayOf = (key: string): ClusterGateway => {
  const gateway = live.get(key);
  if (!gateway) throw new Error(`gateway ${key} is gone`);
  return gateway;
};
const gatewayMachine = clusterGatewayMachine.provide({
  actors: {
    listen: fromPromise<void, { key: string }>(({ input }) => gatewayOf(input.key).listen()),
    unlisten: fromPromise<void, { key: string }>(({ input }) => gatewayOf(input.key).unlisten()),
  },
});

export class ClusterGateway {
  #cluster: ServedCluster;
  readonly #sessions = new Map<string, SessionUpstreams>();
  #servers: HttpServer[] = [];
  readonly #sockets = new Set<Socket | import('node:stream').Duplex>();
  #turn = 0;
  readonly actor;
  readonly done: Promise<void>;
  readonly #log: Logger;

  constructor(private readonly options: ClusterGatewayOptions) {
    this.#cluster = options.cluster;
    this.#log = options.logger.child({ cluster: options.cluster.name });
    const key = `g${++nextKey}`;
    live.set(key, this);
    this.actor = createActor(gatewayMachine, {
      id: `gateway:${options.cluster.name}`,
      input: { clusterName: options.cluster.name, key, retryListenMs: 2_000 },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.done = new Promise((resolve) => {
      this.actor.subscribe({ next: (s) => s.status === 'done' && resolve(), error: () => resolve() });
    });
    void this.done.then(() => live.delete(key));
    let previous = '';
    this.actor.subscribe((snapshot) => {
      const state = String(snapshot.value);
      if (state === previous) return;
      previous = state;
      if (state === 'retrying') this.#log.error({ error: snapshot.context.lastError }, 'Cannot open the cluster listeners; retrying');
    });
    this.actor.start();
  }

  get cluster(): ServedCluster {
    return this.#cluster;
  }
  get sessionCount(): number {
    return this.#sessions.size;
  }
  get listening(): boolean {
    return this.actor.getSnapshot().matches('serving');
  }

  addSession(session: ProxySession): void {
    const config = session.config;
    const kubernetesTarget = session.kubernetesTarget;
    const kubesphereTarget = session.kubesphereTarget;
    if (!config || !kubernetesTarget || !kubesphereTarget) return;
    const open = (target: string) => session.openStream(target);
    this.#sessions.set(session.id, {
      session,
      kubernetes: {
        agent: new TunnelHttpsAgent(open, kubernetesTarget, config),
        secure: true,
        target: kubernetesTarget,
        stripAuthorization: true,
        ...(config.bearerToken ? { authorization: `Bearer ${config.bearerToken.toString('utf8').trim()}` } : {}),
      },
      kubesphere: { agent: new TunnelHttpAgent(open, kubesphereTarget), secure: false, target: kubesphereTarget, stripAuthorization: false },
    });
    this.actor.send({ type: 'session.add', sessionId: session.id });
  }

  removeSession(session: ProxySession): void {
    const entry = this.#sessions.get(session.id);
    if (!entry) return;
    this.#sessions.delete(session.id);
    entry.kubernetes.agent.destroy();
    entry.kubesphere.agent.destroy();
    this.actor.send({ type: 'session.remove', sessionId: session.id });
  }

  /** The cluster's settings changed; new ports or hosts reopen the listeners with them. */
  update(cluster: ServedCluster): void {
    const before = this.#cluster;
    this.#cluster = cluster;
    const hosts = (c: ServedCluster) => [...(c.extraHosts ?? [])].sort().join(',');
    if (
      before.kubernetesAPIServerPort !== cluster.kubernetesAPIServerPort ||
      before.kubesphereAPIServerPort !== cluster.kubesphereAPIServerPort ||
      hosts(before) !== hosts(cluster)
    ) {
      this.actor.send({ type: 'cluster.update' });
    }
  }

  /** The cluster is gone: close listeners and end its sessions. */
  async remove(): Promise<void> {
    this.actor.send({ type: 'cluster.remove' });
    await Promise.all([...this.#sessions.values()].map(({ session }) => session.stop('cluster removed')));
    await this.done;
    this.actor.stop();
  }

  #pick(kind: 'kubernetes' | 'kubesphere'): Upstream | undefined {
    const ids = this.actor.getSnapshot().context.sessions;
    if (ids.length === 0) return undefined;
    for (let i = 0; i < ids.length; i += 1) {
      const entry = this.#sessions.get(ids[(this.#turn + i) % ids.length]!);
      if (entry) {
        this.#turn = (this.#turn + i + 1) % ids.length;
        return entry[kind];
      }
    }
    return undefined;
  }

  /** For the machine's `listen` actor only. */
  async listen(): Promise<void> {
    const cluster = this.#cluster;
    const cert = await this.options.servingCert(cluster);
    const proxyFor = (listener: 'kubernetes' | 'kubesphere') =>
      createReverseProxy({
        clusterName: cluster.name,
        listener,
        pickUpstream: () => this.#pick(listener),
        logger: this.options.logger,
        ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
      });
    const kube = proxyFor('kubernetes');
    const ks = proxyFor('kubesphere');
    const https = createHttpsServer(
      { cert: cert.certPem, key: cert.keyPem, ca: this.options.caPem, requestCert: true, rejectUnauthorized: true },
      kube.handleRequest,
    );
    https.on('upgrade', kube.handleUpgrade);
    const http = createHttpServer(ks.handleRequest);
    http.on('upgrade', ks.handleUpgrade);
    const servers = [https, http];
    for (const server of servers) {
      server.on('connection', (socket: Socket) => {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
      });
      server.on('tlsClientError', () => {}); // a client without a valid certificate: refused, nothing to log
    }
    try {
      await listen(https, cluster.kubernetesAPIServerPort, this.options.host);
      await listen(http, cluster.kubesphereAPIServerPort, this.options.host);
    } catch (error) {
      await Promise.all(servers.map(closeServer));
      throw error;
    }
    this.#servers = servers;
    this.#log.info(
      { kubernetesPort: cluster.kubernetesAPIServerPort, kubespherePort: cluster.kubesphereAPIServerPort, host: this.options.host },
      'Cluster listeners open',
    );
  }

  /** For the machine's `unlisten` actor only. */
  async unlisten(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await Promise.all(servers.map(closeServer));
    if (servers.length) this.#log.info('Cluster listeners closed');
  }
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : `listen on ${host}:${port}: ${error.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
