/**
 * Reverse-proxy one listener's traffic to the member cluster through the tunnel:
 * requests stream both ways (a watch reaches the client event by event), and connection
 * upgrades (SPDY/3.1, WebSocket — kubectl exec/attach/port-forward) are spliced through.
 * Clients speak HTTP/1.1 or HTTP/2 (each HTTP/2 stream is one request); the member is
 * always reached over the pooled HTTP/1.1 connections of the session's agent.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions, type ServerResponse } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../log.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { pipeStreams } from '../pipe-streams.js';
import { AgentWentSilent, ChannelNotOpened } from './channel-errors.js';
import { ResponseRelay } from './response-relay.js';
import type { ConnectCallback, TunnelConnections } from './upstream-connections.js';
import { isWatch, WatchLines } from './watch-lines.js';

/** Where one request goes: a session's pooled agent and what to send upstream. */
export interface Upstream {
  /** The session's connections to the target: a pool for requests, fresh ones for upgrades. */
  readonly connections: TunnelConnections;
  /** `host:port` of the target inside the member cluster (for the Host header). */
  readonly target: string;
  /** Replaces the client's Authorization header when set (the agent's bearer token). */
  readonly authorization?: string;
  /** Drop the client's Authorization header (kube path: the client cert is the identity). */
  readonly stripAuthorization: boolean;
  /** The agent went silent (suspected dead): requests waiting on it are moved or failed. */
  readonly suspect: () => boolean;
}

/** Why an upstream request was cut; made once (an Error's stack costs microseconds per request). */
const CLIENT_GONE = new Error('the client went away');
const DRAINING = new Error('the proxy is draining');

/** How often a request waiting for its response headers looks whether its agent went silent. */
const SILENCE_CHECK_MS = 250;

export interface ReverseProxyOptions {
  readonly clusterName: string;
  readonly listener: 'kubernetes' | 'kubesphere';
  /** The session to use for the next request (not one of `exclude`), or undefined when none serves. */
  readonly pickUpstream: (exclude?: ReadonlySet<Upstream>) => Upstream | undefined;
  /** Why there is none (the 503's message); default "cluster X has no connected agent". */
  readonly unavailable?: () => string;
  readonly logger: Logger;
  readonly metrics?: ProxyMetrics;
}

/** A client's request and response, over HTTP/1.1 or as an HTTP/2 stream. */
export type ProxiedRequest = IncomingMessage | Http2ServerRequest;
export type ProxiedResponse = ServerResponse | Http2ServerResponse;

// RFC 9110 §7.6.1 hop-by-hop headers, never forwarded as such; and HTTP/2's own
// (RFC 9113 §8.2.2: connection-specific fields are malformed there). `Expect: 100-continue`
// has been answered by the proxy's own server (Node's default) before the request arrives.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'expect']);
const ONLY_PERSISTENCE = /^\s*(?:keep-alive|close)\s*$/i;

/**
 * The headers without hop-by-hop ones (and those the Connection header lists), HTTP/2
 * pseudo-headers and `drop`. Copied name by name rather than spread and deleted from: a
 * deleted property turns the object into a slow dictionary, and this runs twice per request.
 */
function endToEnd(headers: IncomingHttpHeaders, drop?: string): OutgoingHttpHeaders {
  const connection = headers.connection;
  // Nearly always `keep-alive` or `close`, which name no other header: no set to build.
  const listed = connection && !ONLY_PERSISTENCE.test(connection) ? new Set(connection.split(',').map((h) => h.trim().toLowerCase())) : undefined;
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (HOP_BY_HOP.has(name) || name === drop || name.startsWith(':') || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

function forwardHeaders(headers: IncomingHttpHeaders, upstream: Upstream, upgrade: boolean): OutgoingHttpHeaders {
  const out = endToEnd(headers, upstream.stripAuthorization || upstream.authorization ? 'authorization' : undefined);
  if (upgrade) {
    out.connection = 'Upgrade';
    out.upgrade = headers.upgrade;
  }
  out.host = upstream.target;
  if (upstream.authorization) out.authorization = upstream.authorization;
  return out;
}

/** A Kubernetes Status (what kubectl and client-go show) for an error the proxy answers itself. */
export function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }) + '\n';
}

export function createReverseProxy(options: ReverseProxyOptions) {
  const log = options.logger.child({ cluster: options.clusterName, listener: options.listener });
  const unavailable = () => options.unavailable?.() ?? `cluster ${options.clusterName} has no connected agent`;
  /** What each request in flight does at a drain's deadline. */
  const inflight = new Set<() => void>();
  const idleWaiters = new Set<() => void>();
  const track = (onDeadline: () => void, until: { once(event: 'close', fn: () => void): unknown }) => {
    inflight.add(onDeadline);
    until.once('close', () => {
      inflight.delete(onDeadline);
      if (inflight.size > 0) return;
      for (const resolve of idleWaiters) resolve();
      idleWaiters.clear();
    });
  };

  // An upgraded connection is consumed by the upgrade: it gets a connection of its own.
  const sendUpgrade = (upstream: Upstream, req: IncomingMessage) =>
    httpRequest({
      createConnection: ((_options, callback) => upstream.connections.connect(callback as ConnectCallback)) as CreateConnection,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req.headers, upstream, true),
    });

  const metrics = options.metrics;
  // The listener's byte counters, labelled once (at the first bytes) rather than per request.
  const byteCounter = (direction: 'to_member' | 'from_member') => {
    if (!metrics) return undefined;
    let counter: ReturnType<typeof metrics.bytes.labels> | undefined;
    return (bytes: number) => (counter ??= metrics.bytes.labels({ direction, listener: options.listener })).inc(bytes);
  };
  const toMember = byteCounter('to_member');
  const fromMember = byteCounter('from_member');

  /** Plain requests (HTTP/1.1, or one HTTP/2 stream). */
  const handleRequest = (req: ProxiedRequest, res: ProxiedResponse) => {
    // Latency to the response headers: a watch's length is not a request's latency.
    const endTimer = metrics?.requests.startTimer({ listener: options.listener });
    let timed = false;
    const headersSent = (code: number) => {
      if (timed) return;
      timed = true;
      endTimer?.({ code: `${String(code).charAt(0)}xx` });
    };
    const upstream = options.pickUpstream();
    if (!upstream) {
      headersSent(503);
      return respond(res, 503, { 'content-type': 'application/json' }, statusBody(503, 'ServiceUnavailable', unavailable()));
    }
    // Two failures are retried before any answer, on another connection:
    // - the channel never opened (the agent refused it, its session ended): nothing reached
    //   the member, so any request goes to another agent — the body is read only once a
    //   connection is there;
    // - a pooled keep-alive connection the member closed at its idle timeout: as Go's
    //   http.Transport, a request without a body that cannot change anything is sent once
    //   more on a fresh connection. Anything else is a 502.
    const withBody = hasBody(req);
    const replayable = REPLAYABLE_METHODS.has(req.method ?? '') && !withBody;
    if (!withBody) req.resume();
    // The upstreams tried so far (a set is made only when another one is picked).
    const tried: Upstream[] = [];
    let replayed = false;
    let current: ResponseRelay | undefined;
    const forward = (target: Upstream, fresh: boolean) => {
      tried.push(target);
      const relay = new ResponseRelay({
        started: (statusCode, headers, statusMessage) => {
          clearInterval(silence);
          headersSent(statusCode);
          writeHead(res, statusCode, endToEnd(headers), statusMessage);
          // A body that may wait (a watch, `logs -f`: no length) must not hold the headers back
          // (HTTP/2's writeHead sends them at once). With a length they leave with the first
          // bytes: one TLS record and one write per small response instead of two.
          if (!(res instanceof Http2ServerResponse) && headers['content-length'] === undefined) res.flushHeaders();
          if (!isWatch(req.url, headers['content-type'])) return res as ServerResponse;
          // A watch goes on event by event, so a drain can end it between two events.
          const lines = new WatchLines();
          lines.pipe(res);
          endAtDeadline = () => {
            relay.cancel(DRAINING);
            lines.unpipe(res);
            res.end();
          };
          return { write: (chunk) => lines.write(chunk), end: () => lines.end(), destroy: () => res.destroy(), once: (event, listener) => lines.once(event, listener) };
        },
        failed: (error, reused) => {
          clearInterval(silence);
          if (res.destroyed) return;
          // Nothing reached the member, or nothing can have changed there: try another agent.
          const silenced = error instanceof AgentWentSilent;
          const movable = error instanceof ChannelNotOpened || (silenced && replayable);
          const elsewhere = movable ? options.pickUpstream(new Set(tried)) : undefined;
          if (elsewhere) return forward(elsewhere, fresh);
          if (!replayed && replayable && reused) {
            replayed = true;
            const again = options.pickUpstream();
            if (again) return forward(again, true);
          }
          log.warn({ method: req.method, path: pathOnly(req.url), error: error.message }, 'Upstream request failed');
          headersSent(502);
          respond(res, 502, { 'content-type': 'application/json' }, statusBody(502, 'BadGateway', `cluster ${options.clusterName}: ${error.message}`));
        },
        ...(fromMember ? { received: fromMember } : {}),
      });
      current = relay;
      // Until the answer starts, an agent that goes silent does not keep the client waiting.
      // (Cleared as soon as it starts or fails: a live timer holds the whole request.)
      const silence = setInterval(() => {
        if (relay.settled) return clearInterval(silence);
        if (target.suspect()) relay.fail(new AgentWentSilent());
      }, SILENCE_CHECK_MS);
      target.connections.send(
        {
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          path: req.url ?? '/',
          headers: forwardHeaders(req.headers, target, false) as Record<string, string | string[]>,
          // Read on demand, and not destroyed when sent: an HTTP/2 request is its response's stream too.
          // (undici takes async iterables; its types do not say so.)
          body: withBody ? (countedBody(req, toMember) as unknown as Readable) : null,
        },
        relay,
        fresh,
      );
    };
    // A client that goes away mid-request or mid-response releases the upstream request;
    // one whose response arrived whole has nothing left to release.
    res.on('close', () => {
      headersSent(res.statusCode);
      current?.cancel(CLIENT_GONE);
    });
    // At a drain's deadline a watch ends cleanly; anything else still running is cut.
    let endAtDeadline: () => void = () => void res.destroy();
    track(() => endAtDeadline(), res);
    forward(upstream, false);
  };

  /** `Connection: Upgrade` requests: relay the 101 and then splice both sockets. */
  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const upstream = options.pickUpstream();
    if (!upstream) {
      socket.end(
        rawResponse(503, 'Service Unavailable', { 'content-type': 'application/json' }, statusBody(503, 'ServiceUnavailable', unavailable())),
      );
      return;
    }
    const upstreamReq = sendUpgrade(upstream, req);
    track(() => socket.destroy(), socket);
    const abandon = () => upstreamReq.destroy();
    socket.once('close', abandon);
    upstreamReq.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
      socket.off('close', abandon); // from here on pipeStreams owns both sockets
      socket.write(rawHead(101, upstreamRes.statusMessage ?? 'Switching Protocols', upstreamRes.rawHeaders));
      if (upstreamHead.length) socket.write(upstreamHead);
      if (head.length) upstreamSocket.write(head);
      pipeStreams(socket, upstreamSocket, (result) => {
        toMember?.(result.bytesAtoB + head.length);
        fromMember?.(result.bytesBtoA + upstreamHead.length);
      });
    });
    upstreamReq.on('response', (upstreamRes) => {
      // The member refused the upgrade (e.g. 403): pass its answer on and close.
      socket.write(rawHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? '', upstreamRes.rawHeaders, true));
      upstreamRes.pipe(socket);
    });
    upstreamReq.on('error', (error) => {
      log.warn({ path: pathOnly(req.url), error: error.message }, 'Upstream upgrade failed');
      socket.end(
        rawResponse(
          502,
          'Bad Gateway',
          { 'content-type': 'application/json' },
          statusBody(502, 'BadGateway', `cluster ${options.clusterName}: ${error.message}`),
        ),
      );
    });
    upstreamReq.end();
  };

  /** Resolves once no request or upgrade is in flight. */
  const idle = (): Promise<void> => (inflight.size === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.add(resolve)));

  /** A drain's deadline: end watches between two events, cut everything else. */
  const endInFlight = (): void => {
    for (const end of [...inflight]) end();
  };

  return { handleRequest, handleUpgrade, idle, endInFlight };
}

export type ReverseProxy = ReturnType<typeof createReverseProxy>;

/** Methods that change nothing upstream: safe to send again when a pooled connection died. */
const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function hasBody(req: ProxiedRequest): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  // HTTP/2: a body needs no length; a request without one ends with its headers.
  if ('stream' in req) return !req.stream.endAfterHeaders;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Response headers on either protocol (HTTP/2 has no reason phrase). */
function writeHead(res: ProxiedResponse, code: number, headers: OutgoingHttpHeaders, reason?: string): void {
  if (res instanceof Http2ServerResponse) res.writeHead(code, headers);
  else if (reason) res.writeHead(code, reason, headers);
  else res.writeHead(code, headers);
}

function respond(res: ProxiedResponse, code: number, headers: OutgoingHttpHeaders, body: string): void {
  writeHead(res, code, headers);
  res.end(body);
}

type CreateConnection = NonNullable<RequestOptions['createConnection']>;

/**
 * A request body for undici: read as it is sent, counted on the way, and left alone when
 * sent (undici destroys a stream body once sent; an HTTP/2 request's stream is also its
 * response's). `readable.iterator` is marked experimental on Node 20–24; the HTTP/1.1 and
 * HTTP/2 body tests (request-bodies, http2) run it on each.
 */
async function* countedBody(req: ProxiedRequest, count: ((bytes: number) => void) | undefined): AsyncGenerator<Buffer> {
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    count?.(chunk.length);
    yield chunk;
  }
}

function rawHead(code: number, message: string, rawHeaders: string[], close = false): string {
  let head = `HTTP/1.1 ${code} ${message}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (close && /^(connection|keep-alive|transfer-encoding)$/i.test(name)) continue;
    head += `${name}: ${rawHeaders[i + 1]}\r\n`;
  }
  if (close) head += 'Connection: close\r\n';
  return head + '\r\n';
}

function rawResponse(code: number, message: string, headers: Record<string, string>, body: string): string {
  const lines = Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `HTTP/1.1 ${code} ${message}\r\n${lines}\r\n${body}`;
}

/** Paths may carry names but not secrets; query strings are dropped from logs anyway. */
function pathOnly(url: string | undefined): string {
  return (url ?? '').split('?')[0] ?? '';
}
