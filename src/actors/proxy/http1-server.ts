/**
 * The HTTP/1.1 server behind a cluster listener (plain on the ks port, inside TLS on the
 * kube port). It never listens itself: the listener feeds it connections. Idle keep-alive
 * connections close after the idle timeout; a request head that breaks the protocol gets
 * a 400 and the socket is destroyed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseHttp } from './connection-deadline.js';
import type { ListenerLimits } from './proxy-defaults.js';

export interface Http1Handlers {
  readonly request: (req: IncomingMessage, res: ServerResponse) => void;
  /** `Connection: Upgrade` requests: SPDY/3.1 and WebSocket (exec, attach, port-forward). */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export function createHttp1Server(limits: Pick<ListenerLimits, 'requestTimeoutMs' | 'clientIdleTimeoutMs'>, handlers: Http1Handlers): Server {
  const server = createServer(handlers.request);
  server.on('upgrade', handlers.upgrade);
  server.keepAliveTimeout = limits.clientIdleTimeoutMs;
  server.headersTimeout = limits.requestTimeoutMs;
  server.requestTimeout = 0; // a long upload or watch is not a slow request head
  server.on('clientError', (_error, socket) => refuseHttp(socket, 400, 'Bad Request', 'bad request'));
  return server;
}
