/**
 * HTTP/2 and watch load for the h2 phase: requests per second with N concurrent streams
 * on one HTTP/2 connection, and one client holding N watches (N streams on one HTTP/2
 * connection, or N HTTP/1.1 connections — what a client-go program falls back to).
 */
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, type ClientHttp2Session } from 'node:http2';
import type { LoadControl, LoadTarget } from './bench-load-target.js';
import { clientTls } from './bench-tls-context.js';

export interface H2RpsResult {
  readonly kind: 'h2rps';
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly rps: number;
}

export interface WatchesResult {
  readonly kind: 'watches';
  readonly protocol: 'h1' | 'h2';
  readonly watches: number;
  /** Start until every watch had its first event. */
  readonly readyMs: number;
  /** Watches that failed or ended before stop. */
  readonly errors: number;
  readonly firstError?: string;
}

async function h2Session(target: LoadTarget, timeoutMs: number): Promise<ClientHttp2Session> {
  const url = new URL(target.url);
  const session = connect(url.origin, clientTls(target));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`HTTP/2 connect to ${url.host}: no answer within ${timeoutMs} ms`)), timeoutMs);
    session.once('connect', () => (clearTimeout(timer), resolve()));
    session.once('error', (error) => (clearTimeout(timer), reject(error)));
  });
  if (session.alpnProtocol !== 'h2') {
    session.destroy();
    throw new Error(`${url.host} did not negotiate h2 (ALPN: ${session.alpnProtocol ?? 'none'})`);
  }
  session.on('error', () => {}); // reported per stream
  return session;
}

function h2Get(session: ClientHttp2Session, target: LoadTarget, timeoutMs: number): Promise<number> {
  const url = new URL(target.url);
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': `${url.pathname}${url.search}`, ...target.headers });
    let status = 0;
    stream.setTimeout(timeoutMs, () => stream.close());
    stream.on('response', (headers) => (status = Number(headers[':status'] ?? 0)));
    stream.on('data', () => {});
    stream.on('end', () => resolve(status));
    stream.on('error', reject);
    stream.on('close', () => (status ? resolve(status) : reject(new Error('stream closed without a response'))));
    stream.end();
  });
}

export async function h2Rps(target: LoadTarget, streams: number, durationMs: number, warmupMs: number, timeoutMs: number): Promise<H2RpsResult> {
  const session = await h2Session(target, timeoutMs);
  let counting = false;
  let requests = 0;
  let errors = 0;
  let firstError: string | undefined;
  const stopAt = performance.now() + warmupMs + durationMs;
  const lane = async () => {
    while (performance.now() < stopAt) {
      try {
        const status = await h2Get(session, target, timeoutMs);
        if (status !== 200) throw new Error(`HTTP ${status}`);
        if (counting) requests += 1;
      } catch (error) {
        firstError ??= error instanceof Error ? error.message : String(error);
        if (counting) errors += 1;
        if (session.destroyed) break;
      }
    }
  };
  const lanes = Array.from({ length: streams }, lane);
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  counting = true;
  const from = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const seconds = (performance.now() - from) / 1000;
  counting = false;
  const counted = requests;
  await Promise.all(lanes);
  session.close();
  if (counted === 0) throw new Error(`every HTTP/2 request to ${target.url} failed: ${firstError}`);
  return { kind: 'h2rps', requests: counted, errors, ...(firstError ? { firstError } : {}), seconds, rps: counted / seconds };
}

/** Open `count` watches, report ready once each had its first event, hold them until stopped. */
export async function watches(target: LoadTarget, count: number, protocol: 'h1' | 'h2', timeoutMs: number, control: LoadControl): Promise<WatchesResult> {
  const started = performance.now();
  const closers: Array<() => void> = [];
  let errors = 0;
  let firstError: string | undefined;
  let stopping = false;
  const failed = (error: unknown) => {
    if (stopping) return;
    errors += 1;
    firstError ??= error instanceof Error ? error.message : String(error);
  };
  const session = protocol === 'h2' ? await h2Session(target, timeoutMs) : undefined;
  const agent = protocol === 'h1' ? new HttpsAgent({ keepAlive: true, maxSockets: Infinity, ...clientTls(target) }) : undefined;
  const url = new URL(target.url);
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watch: no first event within ${timeoutMs} ms`)), timeoutMs);
      const first = () => (clearTimeout(timer), resolve());
      if (session) {
        const stream = session.request({ ':method': 'GET', ':path': `${url.pathname}${url.search}`, ...target.headers });
        closers.push(() => stream.close());
        stream.once('data', first);
        stream.on('error', (error) => (failed(error), reject(error)));
        stream.on('close', () => failed(new Error('watch closed')));
        stream.end();
      } else {
        const req = httpsRequest({ host: url.hostname, port: Number(url.port), path: `${url.pathname}${url.search}`, agent, headers: { ...target.headers } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`watch: HTTP ${res.statusCode}`));
          res.once('data', first);
          res.on('error', failed);
          res.on('close', () => failed(new Error('watch closed')));
        });
        closers.push(() => req.destroy());
        req.on('error', (error) => (failed(error), reject(error)));
        req.end();
      }
    });
  try {
    await Promise.all(Array.from({ length: count }, open));
    const readyMs = performance.now() - started;
    control.ready();
    await control.stop;
    return { kind: 'watches', protocol, watches: count, readyMs, errors, ...(firstError ? { firstError } : {}) };
  } finally {
    stopping = true;
    for (const close of closers) close();
    session?.close();
    agent?.destroy();
  }
}
