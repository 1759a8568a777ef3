/**
 * The proxy's port for agents: the WebSocket upgrade with subprotocol `kubesphere-v1` that
 * carries an agent's SSH session, and the plain routes `GET /livez` (the process answers),
 * `GET /readyz` (this replica serves: a Service should send agents here), `GET /health`
 * (the Go tower's), `GET /version` and the extra routes (e.g. /metrics). Anything else is
 * 404, a wrong subprotocol 400 with a line saying which one is spoken here; an agent that
 * comes while this replica does not serve (a standby, or draining) gets 503.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../log.js';
import { BUILD_VERSION, CAPABILITIES_HEADER, MAX_WS_MESSAGE_BYTES, MEMBER_TLS, SUBPROTOCOL } from '../../protocol/constants.js';
import { webSocketTransport } from '../../protocol/websocket-transport.js';
import type { ThrottleVerdict } from './auth-throttle.js';
import { armDeadline, clearDeadline, refuseHttp } from './connection-deadline.js';

/**
 * Connections waiting to be accepted on the agent port (the kernel caps it at
 * net.core.somaxconn). Node's default, 511, overflows when a fleet reconnects after a
 * proxy restart: the kernel drops the excess handshakes and those agents wait for TCP's
 * SYN retransmits (1 s, 3 s, 7 s…). `npm run soak` counted ~2,500 drops for 1,000 agents.
 */
export const AGENT_LISTEN_BACKLOG = 4096;
/**
 * At the --max-unauthenticated cap, a connection that has sent no request head for this
 * long (or a quarter of --request-timeout, if less) is closed to let a newcomer in: an
 * idle or slowloris flood can no longer hold new agents out until its sockets time out.
 */
const EVICT_SILENT_AFTER_MS = 1_000;

/** What the endpoint knows of a new agent connection besides its bytes. */
export interface AgentArrival {
  readonly remoteAddress: string;
  /** Call once the agent's config is accepted: it no longer counts as unauthenticated. */
  readonly authenticated: () => void;
  /** The failed-authentication throttle's wait before this agent's config is judged. */
  readonly verdictDelayMs: number;
}

/** Hands an agent's byte stream (the WebSocket as a duplex) on. */
export type AgentHandler = (stream: Duplex, arrival: AgentArrival) => void;

export interface AgentEndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /**
   * Where a new agent's byte stream (the WebSocket as a duplex) goes, while this replica
   * serves; undefined when it does not (the upgrade is refused with 503).
   */
  readonly agentHandler: () => AgentHandler | undefined;
  /** `/readyz`: true while this replica serves. */
  readonly ready: () => boolean;
  /** Time a connection has to send its request head (the upgrade, or a plain request). */
  readonly requestTimeoutMs: number;
  /**
   * Connections not yet accepted by a config (plain ones until they close); beyond it new
   * connections are refused at once, as sshd's MaxStartups: a flood of silent or
   * half-open sockets cannot take every descriptor, and agents already in keep working.
   */
  readonly maxUnauthenticated: number;
  /** The failed-authentication throttle's word on a new agent from `remoteAddress`. */
  readonly admit?: (remoteAddress: string) => ThrottleVerdict;
  /** Extra plain-HTTP routes (e.g. /metrics), tried before the 404. */
  readonly extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface AgentEndpoint {
  readonly server: Server;
  readonly port: number;
  /** Connections not yet authenticated now (for tests and metrics). */
  readonly unauthenticated: number;
  close(): Promise<void>;
}

export async function startAgentEndpoint(options: AgentEndpointOptions): Promise<AgentEndpoint> {
  const log = options.logger;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_WS_MESSAGE_BYTES,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  // What this proxy can do beyond the Go tower's protocol (src/protocol/constants.ts).
  wss.on('headers', (headers: string[]) => headers.push(`${CAPABILITIES_HEADER}: ${MEMBER_TLS}`));
  const sockets = new Set<Socket>();
  const unauthenticated = new Set<Duplex>();
  /** Connections that have not sent their request head yet, oldest first, with when they came. */
  const awaitingHead = new Map<Socket, number>();
  const headArrived = (socket: Duplex) => awaitingHead.delete(socket as Socket);
  // An agent sends its upgrade request as soon as it is connected: one that sat silent this
  // long is idle or a slowloris, and gives its place to a newcomer when the cap is reached.
  // (Those already in their SSH handshake are never evicted: a reconnect storm still completes.)
  const evictAfterMs = Math.min(EVICT_SILENT_AFTER_MS, options.requestTimeoutMs / 4);
  let refusedFull = 0;
  let evicted = 0;

  const text = (res: ServerResponse, code: number, body: string) =>
    void res.writeHead(code, { 'content-type': 'text/plain' }).end(`${body}\n`);
  const server = createServer((req, res) => {
    clearDeadline(req.socket);
    headArrived(req.socket);
    if (req.method === 'GET') {
      if (req.url === '/livez' || req.url === '/health') return text(res, 200, 'OK');
      if (req.url === '/readyz')
        return options.ready() ? text(res, 200, 'OK') : text(res, 503, 'not serving (standby, starting or draining)');
      if (req.url === '/version') return text(res, 200, BUILD_VERSION);
    }
    if (options.extraRoutes?.(req, res)) return;
    text(res, 404, 'Not Found');
  });
  server.on('connection', (socket: Socket) => {
    if (unauthenticated.size >= options.maxUnauthenticated && !evictSilent()) {
      // Cheap and early: no parser, no TLS, no SSH for a connection over the cap.
      if (refusedFull++ === 0)
        log.warn(
          { limit: options.maxUnauthenticated },
          'Too many connections not yet authenticated; refusing new ones until some are (--max-unauthenticated)',
        );
      return void socket.destroy();
    }
    if (refusedFull > 1 || evicted > 0)
      log.warn(
        { refused: Math.max(refusedFull - 1, 0), evicted },
        'Connections over --max-unauthenticated: refused, or silent ones closed for newcomers',
      );
    refusedFull = 0;
    evicted = 0;
    sockets.add(socket);
    unauthenticated.add(socket);
    awaitingHead.set(socket, performance.now());
    socket.once('close', () => {
      sockets.delete(socket);
      unauthenticated.delete(socket);
      awaitingHead.delete(socket);
    });
    armDeadline(socket, options.requestTimeoutMs);
  });
  /** Close the oldest connection still silent after evictAfterMs; false if there is none. */
  const evictSilent = (): boolean => {
    const [oldest] = awaitingHead;
    if (!oldest || performance.now() - oldest[1] < evictAfterMs) return false;
    awaitingHead.delete(oldest[0]);
    unauthenticated.delete(oldest[0]);
    oldest[0].destroy();
    evicted += 1;
    return true;
  };
  // A request Node cannot parse: refused, and the socket destroyed rather than half-closed.
  server.on('clientError', (_error, socket) => refuseHttp(socket, 400, 'Bad Request', 'bad request'));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    clearDeadline(socket);
    headArrived(socket);
    const remote = req.socket.remoteAddress ?? 'unknown';
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const isWebSocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (!isWebSocket || !offered.includes(SUBPROTOCOL)) {
      const reason = !isWebSocket
        ? 'only WebSocket upgrades are served here'
        : `subprotocol ${offered.join(', ') || '(none)'} is not spoken here; agents must offer ${SUBPROTOCOL}`;
      log.warn({ remote, reason }, 'Refused an upgrade');
      return refuseHttp(socket, 400, 'Bad Request', reason);
    }
    const verdict = options.admit?.(remote) ?? { kind: 'allow' };
    if (verdict.kind === 'refuse') {
      const seconds = Math.ceil(verdict.retryAfterMs / 1000);
      return refuseHttp(socket, 429, 'Too Many Requests', `too many failed authentications from this address; retry in ${seconds} s`, {
        'retry-after': String(seconds),
      });
    }
    const handler = options.agentHandler();
    if (!handler) {
      return refuseHttp(
        socket,
        503,
        'Service Unavailable',
        'this proxy replica is not serving right now (standby, starting or draining); retry',
      );
    }
    const arrival: AgentArrival = {
      remoteAddress: remote,
      authenticated: () => unauthenticated.delete(socket),
      verdictDelayMs: verdict.kind === 'delay' ? verdict.ms : 0,
    };
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => handler(webSocketTransport(ws, socket), arrival));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new Error(listenProblem(error, options.host, options.port))));
    server.listen({ port: options.port, host: options.host, backlog: AGENT_LISTEN_BACKLOG }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host: options.host, port }, `Listening on ${options.host}:${port}`);
  return {
    server,
    port,
    get unauthenticated() {
      return unauthenticated.size;
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Why the agent port cannot be bound, and what to do about it. */
function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use; choose another --port`;
    case 'EADDRNOTAVAIL':
      return `--host ${host}: this machine has no such address (EADDRNOTAVAIL); give one of its addresses, or 0.0.0.0`;
    case 'EACCES':
      return `port ${port} on ${host}: permission denied (EACCES); choose a port this user may bind`;
    default:
      return `cannot listen on ${host}:${port}: ${error.message}`;
  }
}
