/**
 * What serves a cluster's kube port once a connection is accepted: TLS with a client
 * certificate (signed by the proxy CA, and admitted by its cluster binding), ALPN `h2` and
 * `http/1.1`, and an HTTP server per protocol. kubectl and client-go prefer HTTP/2 and
 * multiplex all their requests and watches on one connection; upgrades (exec, attach,
 * port-forward) come on HTTP/1.1 connections, as kubectl opens them. Both protocols go
 * through the same reverse proxy, with the same deadlines, idle timeout and drain.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../../log.js';
import type { IssuedCert } from '../../pki/issue.js';
import { armDeadline, clearDeadline, refuseHttp } from './connection-deadline.js';
import { createHttp1Server } from './http1-server.js';
import { http2ServerOptions } from './http2-options.js';
import { guardSession } from './http2-session-guard.js';
import type { ListenerLimits } from './proxy-defaults.js';
import { statusBody, type ReverseProxy } from '../http/reverse-proxy.js';

export type KubeProtocol = 'h2' | 'http/1.1';

export interface KubeListenerOptions {
  readonly cert: IssuedCert;
  readonly caPem: string;
  readonly limits: ListenerLimits;
  readonly proxy: Pick<ReverseProxy, 'handleRequest' | 'handleUpgrade'>;
  /** Why this client's certificate may not open this cluster (each request gets a 403), or undefined. */
  readonly refusal: (tls: TLSSocket) => string | undefined;
  /** A client finished its TLS handshake and chose a protocol. */
  readonly onConnection?: (protocol: KubeProtocol) => void;
  readonly logger: Logger;
}

export class KubeListener {
  readonly #options: KubeListenerOptions;
  readonly #tls: TlsServer;
  readonly #http1: HttpServer;
  readonly #http2: Http2Server;
  /** Why a connection's certificate is refused, by TLS socket (HTTP/1.1) or session (HTTP/2). */
  readonly #refused = new WeakMap<object, string>();
  readonly #sessions = new Set<ServerHttp2Session>();
  #draining = false;

  constructor(options: KubeListenerOptions) {
    this.#options = options;
    const { limits, proxy, cert, caPem } = options;
    this.#http1 = createHttp1Server(limits, {
      request: (req, res) => {
        clearDeadline(req.socket);
        const why = this.#refused.get(req.socket);
        if (why) return void res.writeHead(403, { 'content-type': 'application/json', connection: 'close' }).end(forbiddenStatus(why));
        proxy.handleRequest(req, res);
      },
      upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        clearDeadline(socket);
        const why = this.#refused.get(socket);
        if (why) return refuseHttp(socket, 403, 'Forbidden', forbiddenStatus(why), { 'content-type': 'application/json' });
        proxy.handleUpgrade(req, socket, head);
      },
    });
    this.#http2 = createHttp2Server(http2ServerOptions(limits), (req: Http2ServerRequest, res: Http2ServerResponse) => {
      const session = req.stream.session;
      const why = session && this.#refused.get(session);
      if (why) {
        res.writeHead(403, { 'content-type': 'application/json' }).end(forbiddenStatus(why));
        return void session.close(); // as HTTP/1.1's Connection: close
      }
      // Node enforces the header list size once the client acknowledged our SETTINGS; a
      // request sent before (or by a client that never does) is measured here.
      if (headerListBytes(req.rawHeaders) > limits.http2MaxHeaderListBytes) {
        const message = `request headers over ${limits.http2MaxHeaderListBytes} bytes (RFC 9113 accounting)`;
        return void res.writeHead(431, { 'content-type': 'application/json' }).end(statusBody(431, 'RequestHeaderFieldsTooLarge', message));
      }
      proxy.handleRequest(req, res);
    });
    // Plain CONNECT has nothing to reach here (extended CONNECT is not offered at all).
    this.#http2.on('connect', (_req: Http2ServerRequest, res: Http2ServerResponse) => {
      res
        .writeHead(405, { 'content-type': 'application/json' })
        .end(statusBody(405, 'MethodNotAllowed', 'CONNECT is not served here; exec, attach and port-forward use an HTTP/1.1 upgrade (as kubectl does)'));
    });
    // Certificates bound to another cluster pass TLS (the same CA signed them) and are
    // refused on their first request, with a Status that says why.
    this.#tls = createTlsServer({
      cert: cert.certPem,
      key: cert.keyPem,
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: limits.requestTimeoutMs,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    this.#tls.on('secureConnection', (tls: TLSSocket) => this.#serve(tls));
    // A client without a valid certificate, or whose handshake did not finish within
    // --request-timeout: refused, nothing to log; the socket goes at once (with a listener
    // here, Node leaves that to us).
    this.#tls.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
  }

  /** A client's TCP connection to the kube port. */
  accept(socket: Socket): void {
    this.#tls.emit('connection', socket);
  }

  /** New hosts or a renewed certificate: for the connections from now on. */
  setCertificate(cert: IssuedCert): void {
    this.#tls.setSecureContext({ cert: cert.certPem, key: cert.keyPem, ca: this.#options.caPem });
  }

  /**
   * A drain begins: idle HTTP/1.1 connections close; HTTP/2 connections are told (GOAWAY)
   * to open no new streams and close once their streams are done.
   */
  stopAccepting(): void {
    this.#draining = true;
    this.#http1.closeIdleConnections();
    for (const session of this.#sessions) session.close();
  }

  /** Every HTTP/2 connection ends now (the gateway destroys the sockets under them too). */
  close(): void {
    for (const session of this.#sessions) session.destroy();
    this.#sessions.clear();
  }

  #serve(tls: TLSSocket): void {
    tls.on('error', () => {});
    armDeadline(tls, this.#options.limits.requestTimeoutMs);
    const why = this.#options.refusal(tls);
    const protocol: KubeProtocol = tls.alpnProtocol === 'h2' ? 'h2' : 'http/1.1';
    this.#options.onConnection?.(protocol);
    if (protocol === 'http/1.1') {
      if (why) this.#refused.set(tls, why);
      return void this.#http1.emit('connection', tls);
    }
    const session = this.#startSession(tls);
    if (session && why) this.#refused.set(session, why);
  }

  /** Hand the TLS connection to the HTTP/2 server, which makes its session at once. */
  #startSession(tls: TLSSocket): ServerHttp2Session | undefined {
    let session: ServerHttp2Session | undefined;
    const capture = (made: ServerHttp2Session) => (session = made);
    this.#http2.once('session', capture);
    this.#http2.emit('connection', tls);
    this.#http2.off('session', capture);
    if (!session) return void tls.destroy();
    const live = session;
    this.#sessions.add(live);
    live.once('close', () => this.#sessions.delete(live));
    live.setLocalWindowSize(this.#options.limits.http2ConnectionWindowBytes);
    guardSession(live, tls, this.#options.limits, this.#options.logger);
    if (this.#draining) live.close();
    return live;
  }
}

/** A header list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it: names, values and 32 per field. */
function headerListBytes(rawHeaders: readonly string[]): number {
  let bytes = 0;
  for (const field of rawHeaders) bytes += Buffer.byteLength(field);
  return bytes + 16 * rawHeaders.length;
}

/** A Kubernetes Status for a refused certificate. */
function forbiddenStatus(message: string): string {
  return statusBody(403, 'Forbidden', message);
}
