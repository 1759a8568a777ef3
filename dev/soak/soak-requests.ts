/**
 * One soak request of each kind, through a cluster's listeners on the proxy: small GETs,
 * a body of 64 KiB, a watch-like stream and a connection upgrade, on the kube HTTPS path
 * (client certificate signed by the proxy CA) or the ks HTTP path. Every request settles
 * exactly once, within its timeout: ok, or failed with a short reason.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { VERSION_BODY } from './soak-upstream.js';

export const REQUEST_KINDS = ['kube-get', 'ks-get', 'kube-bytes', 'kube-watch', 'ks-watch', 'kube-upgrade', 'ks-upgrade'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** Share of each kind in the mix (sums to 1). */
export const REQUEST_MIX: Readonly<Record<RequestKind, number>> = {
  'kube-get': 0.4,
  'ks-get': 0.2,
  'kube-bytes': 0.05,
  'kube-watch': 0.1,
  'ks-watch': 0.05,
  'kube-upgrade': 0.13,
  'ks-upgrade': 0.07,
};

const BYTES = 64 * 1024;
const WATCH_EVENTS = 5;
const WATCH_INTERVAL_MS = 40;
const UPGRADE_ROUNDS = 3;
/** Larger bodies than this are a failure, not a reason to buffer more. */
const MAX_BODY = 1024 * 1024;

export type Outcome = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly reason: string; readonly ms: number };

export interface RequestContext {
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Keep-alive pools shared by all clusters (keyed by port by Node). */
  readonly kubeAgent: HttpsAgent;
  readonly ksAgent: HttpAgent;
  readonly timeoutMs: number;
}

/**
 * Idle keep-alive connections to the proxy's listeners are dropped after this. Node's agent
 * honours the server's `Keep-Alive: timeout=5` hint only below its own `timeout`, and
 * without one it may reuse a connection the listener is closing that very moment (a
 * client-side race Go's transport retries away): stay under the listeners' 5 s.
 */
const CLIENT_IDLE_MS = 4_000;

export function createRequestContext(tls: RequestContext['tls'], timeoutMs: number): RequestContext {
  const pool = { keepAlive: true, maxSockets: 4, maxFreeSockets: 2, timeout: CLIENT_IDLE_MS };
  return {
    tls,
    kubeAgent: new HttpsAgent({ ...pool, ...tls }),
    ksAgent: new HttpAgent(pool),
    timeoutMs,
  };
}

export function runRequest(kind: RequestKind, ports: { kubePort: number; ksPort: number }, ctx: RequestContext, keepAlive: boolean): Promise<Outcome> {
  const kube = kind.startsWith('kube-');
  const port = kube ? ports.kubePort : ports.ksPort;
  switch (kind) {
    case 'kube-get':
    case 'ks-get':
      return get(kube, port, '/version', ctx, keepAlive, (body) => (body.equals(VERSION_BODY) ? undefined : 'wrong body'));
    case 'kube-bytes':
      return get(true, port, `/bytes?n=${BYTES}`, ctx, keepAlive, (body) => (body.length === BYTES ? undefined : 'truncated body'));
    case 'kube-watch':
    case 'ks-watch':
      return get(kube, port, `/watch?events=${WATCH_EVENTS}&intervalMs=${WATCH_INTERVAL_MS}`, ctx, false, (body) =>
        body.toString('utf8').split('\n').filter(Boolean).length === WATCH_EVENTS ? undefined : 'truncated watch',
      );
    case 'kube-upgrade':
    case 'ks-upgrade':
      return upgrade(kube, port, ctx);
  }
}

/** Runs `start` with a settle-once outcome and a timeout that destroys what it started. */
function bounded(timeoutMs: number, start: (settle: (reason?: string) => void) => { destroy(): void }): Promise<Outcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    let resource: { destroy(): void } | undefined;
    const settle = (reason?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const ms = performance.now() - t0;
      resolve(reason === undefined ? { ok: true, ms } : { ok: false, reason, ms });
    };
    const timer = setTimeout(() => {
      settle('timeout');
      resource?.destroy();
    }, timeoutMs);
    try {
      resource = start(settle);
    } catch (error) {
      settle(classifyError(error));
    }
  });
}

function open(secure: boolean, port: number, path: string, ctx: RequestContext, agent: HttpAgent | false, headers: Record<string, string> = {}): ClientRequest {
  return secure
    ? httpsRequest({ host: '127.0.0.1', port, path, agent, headers, ...(agent ? {} : ctx.tls) })
    : httpRequest({ host: '127.0.0.1', port, path, agent, headers });
}

function get(secure: boolean, port: number, path: string, ctx: RequestContext, keepAlive: boolean, check: (body: Buffer) => string | undefined): Promise<Outcome> {
  return bounded(ctx.timeoutMs, (settle) => {
    const agent = keepAlive ? (secure ? ctx.kubeAgent : ctx.ksAgent) : false;
    const req = open(secure, port, path, ctx, agent);
    req.on('error', (error) => settle(classifyError(error)));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
      });
      res.on('error', (error) => settle(classifyError(error)));
      res.on('aborted', () => settle('aborted mid-response'));
      res.on('end', () => {
        if (res.statusCode !== 200) return settle(`http ${res.statusCode}`);
        settle(size > MAX_BODY ? 'body too large' : check(Buffer.concat(chunks)));
      });
      res.on('close', () => settle(res.complete ? undefined : 'aborted mid-response'));
    });
    req.end();
    return req;
  });
}

/** `Connection: Upgrade` to an echoing upstream: 101, then a few round trips, then end. */
function upgrade(secure: boolean, port: number, ctx: RequestContext): Promise<Outcome> {
  return bounded(ctx.timeoutMs, (settle) => {
    let socket: Duplex | undefined;
    const req = open(secure, port, '/api/v1/namespaces/default/pods/p/exec', ctx, false, { connection: 'Upgrade', upgrade: 'SPDY/3.1' });
    req.on('error', (error) => settle(classifyError(error)));
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      settle(`http ${res.statusCode}`);
      req.destroy();
    });
    req.on('upgrade', (res: IncomingMessage, upgraded: Duplex, head: Buffer) => {
      socket = upgraded;
      if (res.statusCode !== 101) {
        upgraded.destroy();
        return settle(`upgrade answered ${res.statusCode}`);
      }
      let received = head.toString('latin1');
      let round = 0;
      const send = () => upgraded.write(`ping-${++round}\n`);
      const expected = () => Array.from({ length: round }, (_, i) => `ping-${i + 1}\n`).join('');
      upgraded.on('error', (error) => settle(classifyError(error)));
      upgraded.on('close', () => settle('upgraded stream closed early'));
      upgraded.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.length < expected().length) return;
        if (received !== expected()) {
          settle('echo mismatch');
          return void upgraded.destroy();
        }
        if (round < UPGRADE_ROUNDS) return void send();
        settle();
        upgraded.end();
        upgraded.destroy();
      });
      send();
    });
    req.end();
    return { destroy: () => (req.destroy(), socket?.destroy()) };
  });
}

/** A short, countable reason for a failed request. */
export function classifyError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { code?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === 'ECONNREFUSED') return 'ECONNREFUSED';
  if (code === 'ECONNRESET' || code === 'EPIPE') return e.message === 'socket hang up' ? 'socket hang up' : 'ECONNRESET';
  if (code === 'ERR_STREAM_PREMATURE_CLOSE') return 'premature close';
  if (code?.startsWith('ERR_SSL') || code?.startsWith('ERR_TLS') || /certificate|SSL|TLS/i.test(e?.message ?? '')) return `tls ${code ?? 'error'}`;
  if (code) return code;
  const message = error instanceof Error ? error.message : String(error);
  return `error: ${message.replace(/\d+(\.\d+)*(:\d+)?/g, 'N').slice(0, 60)}`;
}
