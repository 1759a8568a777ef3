/**
 * What a fleet of simulated agents needs: the proxy, the clusters they claim to be, the
 * upstreams they serve, and the limits of each connection. Every limit has a default.
 */
import { DEFAULT_BACKOFF, type BackoffOptions } from '../../src/machines/backoff.js';

export interface SimCluster {
  readonly name: string;
  readonly token: string;
}

export interface SimCredentials {
  /** Member CA (PEM), sent as `CAData`. */
  readonly caData?: Buffer | string;
  /** Sent as `BearerToken`: the proxy adds `Authorization: Bearer …` upstream. */
  readonly bearerToken?: Buffer | string;
  /** Client certificate and key (PEM), sent as `CertData` / `KeyData`. */
  readonly certData?: Buffer | string;
  readonly keyData?: Buffer | string;
}

export interface SimAgentsOptions {
  /** `ws://127.0.0.1:port` (or `http://`, turned into `ws://`). */
  readonly proxyUrl: string;
  readonly clusters: readonly SimCluster[];
  /** Agents per cluster (HA); default 1. Agent i serves cluster ⌊i / perCluster⌋. */
  readonly perCluster?: number;
  /** The targets agents dial for the proxy's channels (`host:port`); nothing else is dialed. */
  readonly upstream: { readonly kubernetes: string; readonly kubesphere: string };
  readonly credentials?: SimCredentials;
  /** Reconnect delays (jittered); default the real agent's (1 s, ×1.4, 2 min cap). */
  readonly backoff?: BackoffOptions;
  /** WebSocket + SSH + config must finish within this; default 30 s. */
  readonly handshakeTimeoutMs?: number;
  /** Dialing a target for a channel; default 5 s. */
  readonly dialTimeoutMs?: number;
  /** Send `ping` this often; 0 (default) sends none (the proxy's keepalive still runs). */
  readonly keepaliveMs?: number;
  /** A ping unanswered this long drops the connection; default max(10 s, keepaliveMs). */
  readonly pingTimeoutMs?: number;
  /** At most this many handshakes in flight; 0 (default) = no limit. */
  readonly maxConnecting?: number;
  /** Connect at once (default) or wait for `connectAll()`. */
  readonly autoStart?: boolean;
  /** `Version` in the config; default `sim`. */
  readonly version?: string;
}

export interface ResolvedSimOptions {
  readonly proxyUrl: string;
  readonly perCluster: number;
  readonly allowedTargets: ReadonlySet<string>;
  readonly upstream: { readonly kubernetes: string; readonly kubesphere: string };
  readonly credentials: SimCredentials;
  readonly backoff: BackoffOptions;
  readonly handshakeTimeoutMs: number;
  readonly dialTimeoutMs: number;
  readonly keepaliveMs: number;
  readonly pingTimeoutMs: number;
  readonly maxConnecting: number;
  readonly version: string;
}

export const SIM_DEFAULTS = {
  handshakeTimeoutMs: 30_000,
  dialTimeoutMs: 5_000,
  minPingTimeoutMs: 10_000,
} as const;

export function resolveSimOptions(options: SimAgentsOptions, allowedTargets: ReadonlySet<string>): ResolvedSimOptions {
  const keepaliveMs = options.keepaliveMs ?? 0;
  return {
    proxyUrl: options.proxyUrl.replace(/^http(s?):/, 'ws$1:'),
    perCluster: Math.max(1, Math.floor(options.perCluster ?? 1)),
    allowedTargets,
    upstream: options.upstream,
    credentials: options.credentials ?? {},
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? SIM_DEFAULTS.handshakeTimeoutMs,
    dialTimeoutMs: options.dialTimeoutMs ?? SIM_DEFAULTS.dialTimeoutMs,
    keepaliveMs,
    pingTimeoutMs: options.pingTimeoutMs ?? Math.max(SIM_DEFAULTS.minPingTimeoutMs, keepaliveMs),
    maxConnecting: Math.max(0, Math.floor(options.maxConnecting ?? 0)),
    version: options.version ?? 'sim',
  };
}
