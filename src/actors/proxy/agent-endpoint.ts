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
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../log.js';
import { BUILD_VERSION, SUBPROTOCOL } from '../../protocol/constants.js';

/** Largest WebSocket message accepted from an agent (SSH packets are ≤ 35 000 bytes). */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

/**
 * Connections waiting to be accepted on the agent port (the kernel caps it at
 * net.core.somaxconn). Node's default, 511, overflows when a fleet reconnects after a
 * proxy restart: the kernel drops the excess handshakes and those agents wait for TCP's
 * SYN retransmits (1 s, 3 s, 7 s…). `npm run soak` counted ~2,500 drops for 1,000 agents.
 */
export const AGENT_LISTEN_BACKLOG = 4096;

export interface AgentEndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /**
   * Where a new agent's byte stream (the WebSocket as a duplex) goes, while this replica
   * serves; undefined when it does not (the upgrade is refused with 503).
   */
  readonly agentHandler: () => ((stream: Duplex, remoteAddress: string) => void) | undefined;
  /** `/readyz`: true while this replica serves. */
  readonly ready: () => boolean;
  /** Extra plain-HTTP routes (e.g. /metrics), tried before the 404. */
  readonly extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface AgentEndpoint {
  readonly server: Server;
  readonly port: number;
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
  const sockets = new Set<Socket>();

  const text = (res: ServerResponse, code: number, body: string) => void res.writeHead(code, { 'content-type': 'text/plain' }).end(`${body}\n`);
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      if (req.url === '/livez' || req.url === '/health') return text(res, 200, 'OK');
      if (req.url === '/readyz') return options.ready() ? text(res, 200, 'OK') : text(res, 503, 'not serving (standby, starting or draining)');
      if (req.url === '/version') return text(res, 200, BUILD_VERSION);
    }
    if (options.extraRoutes?.(req, res)) return;
    text(res, 404, 'Not Found');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
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
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${reason.length + 1}\r\n\r\n${reason}\n`);
      return;
    }
    const handler = options.agentHandler();
    if (!handler) {
      const reason = 'this proxy replica is not serving right now (standby, starting or draining); retry';
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${reason.length + 1}\r\n\r\n${reason}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => handler(createWebSocketStream(ws), remote));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${options.port} on ${options.host} is already in use; choose another --port` : error.message)),
    );
    server.listen({ port: options.port, host: options.host, backlog: AGENT_LISTEN_BACKLOG }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host: options.host, port }, `Listening on ${options.host}:${port}`);
  return {
    server,
    port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
