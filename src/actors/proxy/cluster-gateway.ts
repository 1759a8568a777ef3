/**
 * The listeners of one served cluster: HTTPS for its kube-apiserver (client certificates
 * signed by the proxy CA required) and HTTP for its ks-apiserver, both bound to `--host`
 * for as long as the cluster is served. The cluster-gateway machine decides when they
 * bind, rebind and close; this gives it the I/O and picks a session per request,
 * round-robin over the live ones (none: 503).
 *
 * Pay per use: a bound port is a plain TCP listener; the TLS and HTTP servers behind it
 * (the serving certificate, its TLS context) are made at the first connection. The kube
 * listener speaks HTTP/2 and HTTP/1.1 (kube-listener.ts), the ks listener HTTP/1.1.
 */
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { toPromise, type ActorRefFrom } from 'xstate';
import type { ServedCluster } from '../../cluster-sources/cluster-source.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { clusterGatewayMachine, GatewayIo } from '../../machines/cluster-gateway.js';
import { spawnGateway, type clusterGatewaysMachine } from '../../machines/cluster-gateways.js';
import type { BackoffOptions } from '../../machines/backoff.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import type { IssuedCert } from '../../pki/issue.js';
import type { ProxySession } from './proxy-session.js';
import type { ListenerLimits } from './proxy-defaults.js';
import { armDeadline, clearDeadline } from './connection-deadline.js';
import { certificateBinding } from './certificate-binding.js';
import { createHttp1Server } from './http1-server.js';
import { KubeListener } from './kube-listener.js';
import { admitsCluster } from '../../pki/cluster-binding.js';
import { createReverseProxy, type Upstream } from '../http/reverse-proxy.js';
import { TlsTunnelConnections, TunnelConnections } from '../http/upstream-connections.js';

/** The bind outcome "listening", beside the error strings. */
const BOUND = '(bound)';

/** Retry of a failed bind: from 2 s, capped at 1 min (named limit). */
export const LISTEN_RETRY: BackoffOptions = { minMs: 2_000, maxMs: 60_000, factor: 2 };

export interface ClusterGatewayOptions {
  readonly cluster: ServedCluster;
  readonly host: string;
  readonly caPem: string;
  readonly servingCert: (cluster: ServedCluster) => Promise<IssuedCert>;
  readonly logger: Logger;
  readonly metrics?: ProxyMetrics;
  /** The parent the gateway's actor is spawned under (one per ClusterServing). */
  readonly parent: ActorRefFrom<typeof clusterGatewaysMachine>;
  /** Told when binding fails (the error in words) and when it succeeds again (undefined). */
  readonly onBindProblem?: (clusterName: string, problem: string | undefined) => void;
  /** Before a request head (TLS included), between requests, and HTTP/2's: see ProxyLimits. */
  readonly limits: ListenerLimits;
  readonly retry?: BackoffOptions;
}

interface SessionUpstreams {
  readonly session: ProxySession;
  readonly kubernetes: Upstream;
  readonly kubesphere: Upstream;
}

type Listener = 'kubernetes' | 'kubesphere';

export class ClusterGateway implements GatewayIo {
  #cluster: ServedCluster;
  readonly #options: ClusterGatewayOptions;
  readonly #log: Logger;
  readonly #sessions = new Map<string, SessionUpstreams>();
  readonly #sockets = new Set<Socket>();
  #ports: NetServer[] = [];
  #pendingListen: Promise<void> | undefined;
  #turn = 0;
  #kube: Promise<KubeListener> | undefined;
  #http: HttpServer | undefined;
  #proxiesMade: Record<Listener, ReturnType<typeof createReverseProxy>> | undefined;
  readonly actor: ActorRefFrom<typeof clusterGatewayMachine>;
  readonly done: Promise<unknown>;

  constructor(options: ClusterGatewayOptions) {
    this.#options = options;
    this.#cluster = options.cluster;
    this.#log = options.logger.child({ cluster: options.cluster.name });
    this.actor = spawnGateway(options.parent, { clusterName: options.cluster.name, retry: options.retry ?? LISTEN_RETRY, io: this });
    this.done = toPromise(this.actor).catch(() => undefined);
    // Report each change of the bind outcome once: bound, or the error (logged once per change).
    let reported: string | undefined;
    this.actor.subscribe((snapshot) => {
      const outcome = snapshot.matches('listening') ? BOUND : snapshot.matches('retrying') ? snapshot.context.lastError : reported;
      if (outcome === reported || outcome === undefined) return;
      reported = outcome;
      if (outcome !== BOUND) this.#log.error({ error: outcome, failures: snapshot.context.failures }, 'Cannot open the cluster listeners; retrying');
      options.onBindProblem?.(this.#cluster.name, outcome === BOUND ? undefined : outcome);
    });
  }

  /** The reverse proxies, made at the first client connection (a configured cluster without clients pays nothing for them). */
  get #proxies(): Record<Listener, ReturnType<typeof createReverseProxy>> {
    const proxyFor = (listener: Listener) =>
      createReverseProxy({
        clusterName: this.#cluster.name,
        listener,
        pickUpstream: (exclude) => this.#pick(listener, exclude),
        unavailable: () => this.#unavailable(),
        logger: this.#options.logger,
        ...(this.#options.metrics ? { metrics: this.#options.metrics } : {}),
      });
    return (this.#proxiesMade ??= { kubernetes: proxyFor('kubernetes'), kubesphere: proxyFor('kubesphere') });
  }

  get cluster(): ServedCluster {
    return this.#cluster;
  }
  get sessionCount(): number {
    return this.#sessions.size;
  }
  get listening(): boolean {
    return this.actor.getSnapshot().matches('listening');
  }

  addSession(session: ProxySession): void {
    const accepted = session.accepted;
    if (!accepted) return;
    const open = (target: string) => session.openStream(target);
    const { config, kubernetesTarget, kubesphereTarget, memberTls } = accepted;
    this.#sessions.set(session.id, {
      session,
      // With member TLS the agent does the TLS and adds the credentials: plain HTTP here.
      kubernetes: memberTls
        ? { connections: new TunnelConnections(open, kubernetesTarget), target: kubernetesTarget, stripAuthorization: true, suspect: () => session.suspect }
        : {
            connections: new TlsTunnelConnections(open, kubernetesTarget, config),
            target: kubernetesTarget,
            stripAuthorization: true,
            suspect: () => session.suspect,
            ...(config.bearerToken ? { authorization: `Bearer ${config.bearerToken.toString('utf8').trim()}` } : {}),
          },
      kubesphere: {
        connections: new TunnelConnections(open, kubesphereTarget),
        target: kubesphereTarget,
        stripAuthorization: false,
        suspect: () => session.suspect,
      },
    });
    this.actor.send({ type: 'session.add', sessionId: session.id });
  }

  removeSession(session: ProxySession): void {
    const entry = this.#sessions.get(session.id);
    if (!entry) return;
    this.#sessions.delete(session.id);
    entry.kubernetes.connections.destroy();
    entry.kubesphere.connections.destroy();
    this.actor.send({ type: 'session.remove', sessionId: session.id });
  }

  /** The cluster's settings changed: new ports rebind; new hosts get a new certificate. */
  update(cluster: ServedCluster): void {
    const before = this.#cluster;
    this.#cluster = cluster;
    if (before.kubernetesAPIServerPort !== cluster.kubernetesAPIServerPort || before.kubesphereAPIServerPort !== cluster.kubesphereAPIServerPort) {
      this.actor.send({ type: 'cluster.update' });
    }
    const hosts = (c: ServedCluster) => [...(c.extraHosts ?? [])].sort().join(',');
    if (hosts(before) !== hosts(cluster)) void this.#renewServingCert();
  }

  /** The cluster is no longer served: close the listeners and end its sessions. */
  async remove(): Promise<void> {
    this.actor.send({ type: 'cluster.remove' });
    await Promise.all([...this.#sessions.values()].map(({ session }) => session.stop('cluster removed')));
    await this.done; // final: the parent drops it
  }

  /**
   * Drain: take no new connections, let the requests in flight finish for up to `graceMs`,
   * then end the rest (watches between two events). The gateway is removed after.
   */
  async drain(graceMs: number): Promise<void> {
    for (const port of this.#ports) port.close(); // existing connections stay
    const idleHttp = async () => {
      this.#http?.closeIdleConnections();
      (await this.#kube?.catch(() => undefined))?.stopAccepting();
    };
    await idleHttp();
    const { kubernetes, kubesphere } = this.#proxies;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all([kubernetes.idle(), kubesphere.idle()]), deadline]);
    clearTimeout(timer);
    kubernetes.endInFlight();
    kubesphere.endInFlight();
    await idleHttp();
  }

  /** GatewayIo: bind both ports. */
  listen(): Promise<void> {
    this.#pendingListen = this.#bind();
    return this.#pendingListen;
  }

  /** GatewayIo: close both ports and every connection through them. */
  async unlisten(): Promise<void> {
    await this.#pendingListen?.catch(() => undefined); // a bind in flight must not outlive us
    const ports = this.#ports;
    this.#ports = [];
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await Promise.all(ports.map(closeServer));
    const kube = this.#kube;
    this.#kube = undefined;
    this.#http = undefined;
    (await kube?.catch(() => undefined))?.close();
    if (ports.length) this.#log.info('Cluster listeners closed');
  }

  /** Inspectors serialize actor input; a gateway is named, not dumped. */
  toJSON(): string {
    return `ClusterGateway ${this.#cluster.name}`;
  }

  async #bind(): Promise<void> {
    const cluster = this.#cluster;
    const host = this.#options.host;
    const ports: NetServer[] = [];
    try {
      for (const [listener, port] of [
        ['kubernetes', cluster.kubernetesAPIServerPort],
        ['kubesphere', cluster.kubesphereAPIServerPort],
      ] as const) {
        // Kube connections wait for the TLS server (made at the first one): they start paused.
        // No Nagle, as Node's own HTTP servers set on what they accept: a response goes out
        // in several writes (headers at once, for watches), and Nagle held the later ones
        // for the client's delayed ACK (about 40 ms a request on a keep-alive connection).
        const server = createNetServer({ pauseOnConnect: listener === 'kubernetes', noDelay: true }, (socket) => this.#accept(listener, socket));
        ports.push(server);
        await listen(server, port, host);
      }
    } catch (error) {
      await Promise.all(ports.map(closeServer));
      throw error;
    }
    this.#ports = ports;
    this.#log.info({ kubernetesPort: cluster.kubernetesAPIServerPort, kubespherePort: cluster.kubesphereAPIServerPort, host }, 'Cluster listeners open');
  }

  #accept(listener: Listener, socket: Socket): void {
    // What Node's HTTP servers do for the connections they accept themselves (these come
    // from our own listener): without it, Nagle holds a response's last bytes ~40 ms.
    socket.setNoDelay(true);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    if (listener === 'kubesphere') {
      this.#http ??= this.#httpServer();
      armDeadline(socket, this.#options.limits.requestTimeoutMs);
      this.#options.metrics?.clientConnections.inc({ listener: 'kubesphere', protocol: 'http/1.1' });
      return void this.#http.emit('connection', socket);
    }
    this.#kube ??= this.#kubeListener();
    this.#kube.then(
      (kube) => socket.destroyed || kube.accept(socket),
      (error: unknown) => {
        this.#log.error({ error: errorMessage(error) }, 'No serving certificate for the kube listener');
        this.#kube = undefined; // the next connection asks again
        socket.destroy();
      },
    );
  }

  #httpServer(): HttpServer {
    const ks = this.#proxies.kubesphere;
    return createHttp1Server(this.#options.limits, {
      request: (req, res) => {
        clearDeadline(req.socket);
        ks.handleRequest(req, res);
      },
      upgrade: (req, socket, head) => {
        clearDeadline(socket);
        ks.handleUpgrade(req, socket, head);
      },
    });
  }

  async #kubeListener(): Promise<KubeListener> {
    const cert = await this.#options.servingCert(this.#cluster);
    const metrics = this.#options.metrics;
    return new KubeListener({
      cert,
      caPem: this.#options.caPem,
      limits: this.#options.limits,
      proxy: this.#proxies.kubernetes,
      refusal: (tls) => this.#bindingRefusal(tls),
      logger: this.#log,
      ...(metrics ? { onConnection: (protocol) => metrics.clientConnections.inc({ listener: 'kubernetes', protocol }) } : {}),
    });
  }

  /** Why this client's certificate may not open this cluster, or undefined when it may. */
  #bindingRefusal(tls: TLSSocket): string | undefined {
    const binding = certificateBinding(tls.getPeerX509Certificate());
    if (admitsCluster(binding, this.#cluster.name)) return undefined;
    const why =
      binding.kind === 'bound'
        ? `this client certificate is for cluster ${binding.cluster}, not ${this.#cluster.name}; use the kubeconfig of cluster ${this.#cluster.name}`
        : `this client certificate carries an unusable cluster binding: ${binding.kind === 'malformed' ? binding.reason : 'unknown'}`;
    this.#log.warn({ remote: tls.remoteAddress, reason: why }, 'Refused a client certificate bound to another cluster');
    return why;
  }

  /** New hosts (or a renewed certificate): give the running TLS server the new context. */
  async #renewServingCert(): Promise<void> {
    const pending = this.#kube;
    if (!pending) return; // made with the new hosts at the next connection
    try {
      const [kube, cert] = await Promise.all([pending, this.#options.servingCert(this.#cluster)]);
      kube.setCertificate(cert);
    } catch (error) {
      this.#log.error({ error: errorMessage(error) }, 'Cannot renew the serving certificate');
    }
  }

  /** The 503's message: no agent at all, or agents that went silent (suspected dead). */
  #unavailable(): string {
    const name = this.#cluster.name;
    const connected = this.#sessions.size;
    return connected === 0
      ? `cluster ${name} has no connected agent`
      : `cluster ${name} has no responsive agent: ${connected} connected, silent past the keepalive (suspected dead)`;
  }

  /**
   * The next session round-robin, skipping `exclude` and sessions suspected dead (a frozen
   * agent must not make requests wait out the channel-open timeout); none: 503.
   */
  #pick(kind: Listener, exclude?: ReadonlySet<Upstream>): Upstream | undefined {
    const ids = this.actor.getSnapshot().context.sessions;
    for (let i = 0; i < ids.length; i += 1) {
      const entry = this.#sessions.get(ids[(this.#turn + i) % ids.length]!);
      if (!entry || entry.session.suspect || exclude?.has(entry[kind])) continue;
      this.#turn = (this.#turn + i + 1) % ids.length;
      return entry[kind];
    }
    return undefined;
  }
}

function listen(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : `listen on ${host}:${port}: ${error.message}`));
    };
    server.once('error', onError);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}
