/**
 * A minimal kubesphere-v1 proxy for agent tests: WebSocket + ssh2 server speaking the Go
 * tower's dialect, answering `config` as told, optionally ignoring pings, and able to
 * open `kubesphere` channels with any target.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
import '../../src/protocol/ssh2-extensions.js';
import { CAPABILITIES_HEADER, CHANNEL_TYPE, IDENT_SERVER, MEMBER_TLS, SUBPROTOCOL } from '../../src/protocol/constants.js';
import { loadOrCreateHostKey } from '../../src/actors/proxy/host-key.js';

const { Server } = ssh2;

export interface FakeProxyOptions {
  /** Failure message for `config`; undefined accepts. */
  readonly rejectWith?: string;
  /** Never answer `ping` (a proxy that hangs). */
  readonly ignorePings?: boolean;
  /** Offer member TLS as our proxy does: the agent then sends plain HTTP to its kube-apiserver through the channels. */
  readonly offerMemberTls?: boolean;
}

export interface FakeProxy {
  readonly port: number;
  /** Resolves with the next connection whose config was accepted. */
  nextAgent(): Promise<Connection>;
  openChannel(connection: Connection, target: string): Promise<ServerChannel>;
  /** The WebSocket of a connection and the byte stream SSH runs over (for attack tools). */
  transportOf(connection: Connection): { readonly ws: WebSocket; readonly stream: Duplex } | undefined;
  readonly configs: Buffer[];
  close(): Promise<void>;
}

export async function startFakeProxy(options: FakeProxyOptions = {}): Promise<FakeProxy> {
  const hostKey = await loadOrCreateHostKey();
  const configs: Buffer[] = [];
  const waiting: Array<(c: Connection) => void> = [];
  const ready: Connection[] = [];
  const sockets = new Set<Socket>();
  const connections = new Set<Connection>();
  const transports = new WeakMap<Connection, { ws: WebSocket; stream: Duplex }>();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  if (options.offerMemberTls) wss.on('headers', (headers: string[]) => headers.push(`${CAPABILITIES_HEADER}: ${MEMBER_TLS}`));
  const http: HttpServer = createServer((_req, res) => res.writeHead(404).end());
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  http.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {});
      const server = new Server({ hostKeys: [hostKey], identRaw: IDENT_SERVER }, (conn) => {
        connections.add(conn);
        transports.set(conn, { ws, stream });
        conn.on('error', () => {});
        conn.on('close', () => connections.delete(conn));
        conn.on('authentication', (ctx) => (ctx.method === 'password' ? ctx.accept() : ctx.reject(['password'])));
        conn.on('custom request', (accept, reject, name, data) => {
          if (name === 'ping') {
            if (!options.ignorePings) accept?.();
            return;
          }
          if (name !== 'config') return reject?.();
          configs.push(data ?? Buffer.alloc(0));
          if (options.rejectWith) return reject?.(Buffer.from(options.rejectWith));
          accept?.();
          const waiter = waiting.shift();
          if (waiter) waiter(conn);
          else ready.push(conn);
        });
      });
      server.injectSocket(stream as never);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    configs,
    nextAgent: () => {
      const conn = ready.shift();
      return conn ? Promise.resolve(conn) : new Promise((resolve) => waiting.push(resolve));
    },
    openChannel: (connection, target) =>
      new Promise((resolve, reject) =>
        connection.openCustomChannel(CHANNEL_TYPE, Buffer.from(target), (error, channel) => (error ? reject(error) : resolve(channel))),
      ),
    transportOf: (connection) => transports.get(connection),
    close: async () => {
      for (const c of connections) c.end();
      for (const client of wss.clients) client.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
