/**
 * Reverse-proxy one listener's traffic to the member cluster through the tunnel:
 * requests stream both ways (a watch reaches the client event by event), and connection
 * upgrades (SPDY/3.1, WebSocket — kubectl exec/attach/port-forward) are spliced through.
 * Clients speak HTTP/1.1 or HTTP/2 (each HTTP/2 stream is one request); the member is
 * always reached over the pooled HTTP/1.1 connections of the session's agent.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { Agent, RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../log.js';
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { pipeStreams } from '../pipe-streams.js';
import { AgentWentSilent, ChannelNotOpened } from './channel-errors.js';
import { isWatch, WatchLines } from './watch-lines.js';

/** Where one request goes: a session's pooled agent and what to send upstream. */
export interface Upstream {
  readonly agent: Agent;
  readonly secure: boolean;
  /** `host:port` of the target inside the member cluster (for the Host header). */
  readonly target: string;
  /** Replaces the client's Authorization header when set (the agent's bearer token). */
  readonly authorization?: string;
  /** Drop the client's Authorization header (kube path: the client cert is the identity). */
  readonly stripAuthorization: boolean;
  /** The agent went silent (suspected dead): requests waiting on it are moved or failed. */
  readonly suspect: () => boolean;
}

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
// (RFC 9113 §8.2.2: connection-specific fields are malformed there).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings']);
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

  const send = (upstream: Upstream, req: ProxiedRequest, upgrade: boolean, fresh = upgrade) =>
    (upstream.secure ? httpsRequest : httpRequest)({
      // An upgraded connection is consumed by the upgrade: give it a fresh stream rather
      // than a pooled keep-alive one.
      ...(fresh ? { createConnection: freshConnection(upstream.agent) } : { agent: upstream.agent }),
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req.headers, upstream, upgrade),
    });

  const metrics = options.metrics;
  const count = (direction: 'to_member' | 'from_member', stream: Duplex | ProxiedRequest | IncomingMessage) => {
    if (!metrics) return;
    const counter = metrics.bytes.labels({ direction, listener: options.listener });
    stream.on('data', (chunk: Buffer) => counter.inc(chunk.length));
  };

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
    const replayable = REPLAYABLE_METHODS.has(req.method ?? '') && !hasBody(req);
    // The upstreams tried so far (a set is made only when another one is picked).
    const tried: Upstream[] = [];
    let replayed = false;
    let upstreamReq: ClientRequest;
    let upstreamResponse: IncomingMessage | undefined;
    const forward = (target: Upstream, fresh: boolean) => {
      tried.push(target);
      const current = send(target, req, false, fresh);
      upstreamReq = current;
      // Until the answer starts, an agent that goes silent does not keep the client waiting.
      // (Node may surface it as "socket hang up": remember why it was cut.)
      let silenced = false;
      const silence = setInterval(() => {
        if (!target.suspect()) return;
        silenced = true;
        current.destroy(new AgentWentSilent());
      }, SILENCE_CHECK_MS);
      current.once('close', () => clearInterval(silence));
      current.on('response', (upstreamRes) => {
        clearInterval(silence);
        upstreamResponse = upstreamRes;
        headersSent(upstreamRes.statusCode ?? 502);
        writeHead(res, upstreamRes.statusCode ?? 502, endToEnd(upstreamRes.headers), upstreamRes.statusMessage);
        // A body that may wait (a watch, `logs -f`: no length) must not hold the headers back
        // (HTTP/2's writeHead sends them at once). With a length they leave with the first
        // bytes: one TLS record and one write per small response instead of two.
        if (!(res instanceof Http2ServerResponse) && upstreamRes.headers['content-length'] === undefined) res.flushHeaders();
        count('from_member', upstreamRes);
        upstreamRes.on('error', () => res.destroy());
        if (!isWatch(req.url, upstreamRes.headers['content-type'])) return void upstreamRes.pipe(res);
        // A watch goes on event by event, so a drain can end it between two events.
        const lines = new WatchLines();
        upstreamRes.pipe(lines).pipe(res);
        endAtDeadline = () => {
          upstreamRes.unpipe(lines);
          upstreamRes.destroy();
          lines.unpipe(res);
          res.end();
        };
      });
      current.on('error', (error) => {
        if (res.headersSent) return void res.destroy();
        if (res.destroyed) return;
        // Nothing reached the member, or nothing can have changed there: try another agent.
        const movable = error instanceof ChannelNotOpened || ((silenced || error instanceof AgentWentSilent) && replayable);
        const elsewhere = movable ? options.pickUpstream(new Set(tried)) : undefined;
        if (elsewhere) return forward(elsewhere, fresh);
        if (!replayed && replayable && current.reusedSocket) {
          replayed = true;
          const again = options.pickUpstream();
          if (again) return forward(again, true);
        }
        // Cut because its agent went silent: say that, not the "socket hang up" it caused.
        const message = silenced ? new AgentWentSilent().message : error.message;
        log.warn({ method: req.method, path: pathOnly(req.url), error: message }, 'Upstream request failed');
        respond(res, 502, { 'content-type': 'application/json' }, statusBody(502, 'BadGateway', `cluster ${options.clusterName}: ${message}`));
      });
      if (replayable) return void current.end();
      current.once('socket', () => {
        count('to_member', req);
        req.pipe(current);
      });
    };
    // A client that goes away mid-request or mid-response releases the upstream stream.
    // Judged by the member's response: an HTTP/2 response reset with nothing queued (a
    // quiet watch) says writableFinished too. One that arrived whole is drained instead,
    // so its connection goes back to the pool.
    res.on('close', () => {
      headersSent(res.statusCode);
      if (upstreamResponse?.complete) upstreamResponse.resume();
      else upstreamReq.destroy();
    });
    // At a drain's deadline a watch ends cleanly; anything else still running is cut.
    let endAtDeadline: () => void = () => void res.destroy();
    track(() => endAtDeadline(), res);
    forward(upstream, false);
    if (replayable) req.resume();
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
    const upstreamReq = send(upstream, req, true);
    track(() => socket.destroy(), socket);
    const abandon = () => upstreamReq.destroy();
    socket.once('close', abandon);
    upstreamReq.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
      socket.off('close', abandon); // from here on pipeStreams owns both sockets
      socket.write(rawHead(101, upstreamRes.statusMessage ?? 'Switching Protocols', upstreamRes.rawHeaders));
      if (upstreamHead.length) socket.write(upstreamHead);
      if (head.length) upstreamSocket.write(head);
      pipeStreams(socket, upstreamSocket, (result) => {
        metrics?.bytes.inc({ direction: 'to_member', listener: options.listener }, result.bytesAtoB + head.length);
        metrics?.bytes.inc({ direction: 'from_member', listener: options.listener }, result.bytesBtoA + upstreamHead.length);
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

/** A new tunnel stream from the agent's connection factory, bypassing its pool. */
function freshConnection(agent: Agent): CreateConnection {
  const factory = agent as unknown as { createConnection: CreateConnection };
  return ((options, callback) => factory.createConnection(options, callback)) as CreateConnection;
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
