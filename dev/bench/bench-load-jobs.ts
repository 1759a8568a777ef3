/**
 * The load a benchmark puts on one HTTP(S) endpoint: one bulk GET, sequential small GETs
 * with a new connection each, or keep-alive clients in parallel for a while. Runs in a
 * child process of the bench (bench-load.ts) so it does not share a CPU with the servers
 * it measures more than it must.
 */
import { Agent as HttpAgent, request as httpRequest, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { h2Rps, watches, type H2RpsResult, type WatchesResult } from './bench-load-h2.js';
import { percentile } from './bench-stats.js';
import { clientTls } from './bench-tls-context.js';
import type { LoadControl, LoadTarget } from './bench-load-target.js';

export type { LoadControl, LoadTarget };

export type LoadJob =
  | { readonly kind: 'bulk'; readonly target: LoadTarget; readonly timeoutMs: number }
  | {
      readonly kind: 'latency';
      readonly target: LoadTarget;
      readonly count: number;
      readonly warmup: number;
      readonly timeoutMs: number;
      /**
       * What a request reuses of the one before: nothing (a new connection and a full TLS
       * handshake each, the default), its TLS session (a new connection that resumes it, as
       * a returning client whose TLS library keeps sessions), or its connection (keep-alive).
       */
      readonly reuse?: Reuse;
    }
  /** One GET of a body far larger than needed, read until told to stop (or `maxMs`). */
  | { readonly kind: 'stream'; readonly target: LoadTarget; readonly maxMs: number; readonly timeoutMs: number }
  /** N concurrent streams on one HTTP/2 connection, for a while. */
  | { readonly kind: 'h2rps'; readonly target: LoadTarget; readonly streams: number; readonly durationMs: number; readonly warmupMs: number; readonly timeoutMs: number }
  /** One client holding N watches until told to stop: N HTTP/2 streams on one connection, or N HTTP/1.1 connections. */
  | { readonly kind: 'watches'; readonly target: LoadTarget; readonly count: number; readonly protocol: 'h1' | 'h2'; readonly timeoutMs: number }
  | { readonly kind: 'rps'; readonly target: LoadTarget; readonly concurrency: number; readonly durationMs: number; readonly warmupMs: number; readonly timeoutMs: number };

export interface BulkResult {
  readonly kind: 'bulk';
  readonly bytes: number;
  /** Request sent until the last byte (connection setup, TLS handshake and headers included). */
  readonly seconds: number;
  readonly mbPerSecond: number;
  /** Request sent until the response headers. */
  readonly headersSeconds: number;
  /** The body alone: bytes ÷ (seconds − headersSeconds), the stream's steady rate. */
  readonly bodyMbPerSecond: number;
  /** CPU seconds this client used for the transfer (TLS, HTTP parsing). */
  readonly cpuSeconds: number;
}
export type Reuse = 'nothing' | 'tls-session' | 'connection';
export interface LatencyResult {
  readonly kind: 'latency';
  readonly count: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** Measured requests whose new TLS connection resumed a session. */
  readonly resumed: number;
}
export interface RpsResult {
  readonly kind: 'rps';
  /** Requests answered in the measured window (after the warm-up). */
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly rps: number;
  /** Every request answered, warm-up and tail included, and the CPU seconds this client used for them. */
  readonly allRequests: number;
  readonly cpuSeconds: number;
}
export interface StreamResult { readonly kind: 'stream'; readonly bytes: number; readonly seconds: number; readonly mbPerSecond: number }
export type LoadResult = BulkResult | LatencyResult | RpsResult | StreamResult | H2RpsResult | WatchesResult;

/** Bytes a stream must have received before it is ready (flowing). */
const FLOWING_BYTES = 1024 * 1024;

export async function runLoadJob(job: LoadJob, control: LoadControl): Promise<LoadResult> {
  switch (job.kind) {
    case 'bulk':
      return bulk(job.target, job.timeoutMs);
    case 'stream':
      return stream(job.target, job.maxMs, control);
    case 'h2rps':
      return h2Rps(job.target, job.streams, job.durationMs, job.warmupMs, job.timeoutMs);
    case 'watches':
      return watches(job.target, job.count, job.protocol, job.timeoutMs, control);
    case 'latency':
      return latency(job.target, job.count, job.warmup, job.timeoutMs, job.reuse ?? 'nothing');
    case 'rps':
      return rps(job.target, job.concurrency, job.durationMs, job.warmupMs, job.timeoutMs);
  }
}

interface Fetched {
  readonly status: number;
  readonly bytes: number;
  /** performance.now() when the response headers arrived. */
  readonly headersAt: number;
  /** The TLS connection it came on resumed a session. */
  readonly resumed: boolean;
}

function get(target: LoadTarget, agent: HttpAgent | false, timeoutMs: number): Promise<Fetched> {
  const url = new URL(target.url);
  const secure = url.protocol === 'https:';
  const options: RequestOptions = {
    host: url.hostname,
    port: Number(url.port),
    path: `${url.pathname}${url.search}`,
    agent,
    headers: { ...target.headers },
    ...(secure ? clientTls(target) : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
      const headersAt = performance.now();
      const resumed = secure && (res.socket as TLSSocket).isSessionReused();
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headersAt, resumed }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function agentFor(target: LoadTarget, maxSockets: number): HttpAgent {
  const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
  return new URL(target.url).protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
}

async function bulk(target: LoadTarget, timeoutMs: number): Promise<BulkResult> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await get(target, false, timeoutMs);
  const ended = performance.now();
  const seconds = (ended - started) / 1000;
  const used = process.cpuUsage(cpu);
  if (result.status !== 200) throw new Error(`bulk GET ${target.url}: HTTP ${result.status}`);
  return {
    kind: 'bulk',
    bytes: result.bytes,
    seconds,
    mbPerSecond: result.bytes / 1e6 / seconds,
    headersSeconds: (result.headersAt - started) / 1000,
    bodyMbPerSecond: result.bytes / 1e6 / ((ended - result.headersAt) / 1000),
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}

async function latency(target: LoadTarget, count: number, warmup: number, timeoutMs: number, reuse: Reuse): Promise<LatencyResult> {
  // Node's HTTPS agent keeps the TLS sessions of the hosts it reached (maxCachedSessions).
  const agent = reuse === 'connection' ? agentFor(target, 1) : reuse === 'tls-session' ? new HttpsAgent({ keepAlive: false, maxCachedSessions: 1 }) : false;
  try {
    return await latencyOn(target, agent, count, warmup, timeoutMs);
  } finally {
    if (agent) agent.destroy();
  }
}

async function latencyOn(target: LoadTarget, agent: HttpAgent | false, count: number, warmup: number, timeoutMs: number): Promise<LatencyResult> {
  const times: number[] = [];
  let errors = 0;
  let resumed = 0;
  let firstError: string | undefined;
  for (let i = 0; i < warmup + count; i++) {
    const started = performance.now();
    try {
      const result = await get(target, agent, timeoutMs);
      if (result.status !== 200) throw new Error(`HTTP ${result.status}`);
      if (i < warmup) continue;
      times.push(performance.now() - started);
      if (result.resumed) resumed += 1;
    } catch (error) {
      firstError ??= error instanceof Error ? error.message : String(error);
      if (i >= warmup) errors += 1;
    }
  }
  if (times.length === 0) throw new Error(`every request to ${target.url} failed: ${firstError}`);
  times.sort((a, b) => a - b);
  const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
  return { kind: 'latency', count: times.length, errors, ...(firstError ? { firstError } : {}), p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), meanMs: mean, resumed };
}

async function stream(target: LoadTarget, maxMs: number, control: LoadControl): Promise<StreamResult> {
  const url = new URL(target.url);
  const secure = url.protocol === 'https:';
  const started = performance.now();
  let bytes = 0;
  let countedFrom = 0;
  let countFromBytes = 0;
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      {
        host: url.hostname,
        port: Number(url.port),
        path: `${url.pathname}${url.search}`,
        agent: false,
        headers: { ...target.headers },
        ...(secure ? clientTls(target) : {}),
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream GET ${target.url}: HTTP ${res.statusCode}`));
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (countedFrom === 0 && bytes >= FLOWING_BYTES) {
            countedFrom = performance.now();
            countFromBytes = bytes;
            control.ready();
          }
        });
        res.on('end', () => finish());
        res.on('error', () => finish());
      },
    );
    const timer = setTimeout(() => finish(), maxMs);
    const finish = () => {
      clearTimeout(timer);
      req.destroy();
      const from = countedFrom || started;
      const seconds = (performance.now() - from) / 1000;
      const counted = bytes - countFromBytes;
      resolve({ kind: 'stream', bytes: counted, seconds, mbPerSecond: counted / 1e6 / seconds });
    };
    void control.stop.then(finish);
    req.on('error', (error) => (bytes > 0 ? finish() : reject(error)));
    req.end();
  });
}

async function rps(target: LoadTarget, concurrency: number, durationMs: number, warmupMs: number, timeoutMs: number): Promise<RpsResult> {
  const agent = agentFor(target, concurrency);
  const cpu = process.cpuUsage();
  let counting = false;
  let requests = 0;
  let allRequests = 0;
  let errors = 0;
  let firstError: string | undefined;
  let stopAt = Number.POSITIVE_INFINITY;
  const lane = async () => {
    while (performance.now() < stopAt) {
      try {
        const result = await get(target, agent, timeoutMs);
        if (result.status !== 200) throw new Error(`HTTP ${result.status}`);
        allRequests += 1;
        if (counting) requests += 1;
      } catch (error) {
        firstError ??= error instanceof Error ? error.message : String(error);
        if (counting) errors += 1;
      }
    }
  };
  const started = performance.now();
  stopAt = started + warmupMs + durationMs;
  const lanes = Array.from({ length: concurrency }, lane);
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  counting = true;
  const countFrom = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const seconds = (performance.now() - countFrom) / 1000;
  counting = false;
  const counted = requests;
  await Promise.all(lanes);
  agent.destroy();
  const used = process.cpuUsage(cpu);
  if (counted === 0) throw new Error(`every request to ${target.url} failed: ${firstError}`);
  return { kind: 'rps', requests: counted, errors, ...(firstError ? { firstError } : {}), seconds, rps: counted / seconds, allRequests, cpuSeconds: (used.user + used.system) / 1e6 };
}
