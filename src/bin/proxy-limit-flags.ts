/** The proxy's limit and timing flags: their help lines, meow definitions and parsing. */
import type { ProxyLimits } from '../actors/proxy/proxy-defaults.js';
import { countFlag, durationFlag } from './duration.js';

export const LIMIT_FLAGS_HELP = `
  Limits (docs/security.md)
    --request-timeout DURATION     Time a connection has to send its request head, TLS
                                   included, on every port (default 10s)
    --handshake-timeout DURATION   Time for an agent's SSH handshake (default 20s)
    --config-timeout DURATION      Time for an agent's config after it (default 10s)
    --max-unauthenticated N        Agent-port connections not yet accepted by a config;
                                   beyond it new ones are refused at once (default 512)
    --client-idle-timeout DURATION Idle keep-alive clients of the cluster listeners are
                                   closed after this (default 2m)
    --http2-max-streams-per-connection N
                                   Requests (and watches) one HTTP/2 client connection of a
                                   kube listener may have open at once; client-go opens
                                   another connection beyond it (default 250, as kube-apiserver)
    --keepalive-interval DURATION  SSH keepalive probe of each agent after this much
                                   silence (default 10s)
    --keepalive-count N            Unanswered probes before an agent is dropped (default 2:
                                   a frozen agent is dropped within 30s)
    --shutdown-grace DURATION      On SIGTERM, requests in flight get this long to finish;
                                   watches then end cleanly (default 10s)
    --leader-elect-lease-duration DURATION, --leader-elect-renew-deadline DURATION,
    --leader-elect-retry-period DURATION
                                   Lease timings with --leader-elect (default 30s, 15s, 5s)
`;

export const LIMIT_FLAGS = {
  requestTimeout: { type: 'string', default: '10s' },
  handshakeTimeout: { type: 'string', default: '20s' },
  configTimeout: { type: 'string', default: '10s' },
  maxUnauthenticated: { type: 'string', default: '512' },
  clientIdleTimeout: { type: 'string', default: '2m' },
  http2MaxStreamsPerConnection: { type: 'string', default: '250' },
  keepaliveInterval: { type: 'string', default: '10s' },
  keepaliveCount: { type: 'string', default: '2' },
  shutdownGrace: { type: 'string', default: '10s' },
  leaderElectLeaseDuration: { type: 'string', default: '30s' },
  leaderElectRenewDeadline: { type: 'string', default: '15s' },
  leaderElectRetryPeriod: { type: 'string', default: '5s' },
} as const;

type LimitFlagValues = { readonly [K in keyof typeof LIMIT_FLAGS]: string };

export interface ParsedLimits {
  readonly limits: Partial<ProxyLimits>;
  readonly shutdownGraceMs: number;
  readonly lease: { readonly leaseDurationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number };
}

export function parseLimitFlags(f: LimitFlagValues): ParsedLimits {
  return {
    limits: {
      requestTimeoutMs: durationFlag('request-timeout', f.requestTimeout, { min: 1 }),
      handshakeTimeoutMs: durationFlag('handshake-timeout', f.handshakeTimeout, { min: 1 }),
      configTimeoutMs: durationFlag('config-timeout', f.configTimeout, { min: 1 }),
      maxUnauthenticated: countFlag('max-unauthenticated', f.maxUnauthenticated),
      clientIdleTimeoutMs: durationFlag('client-idle-timeout', f.clientIdleTimeout, { min: 1 }),
      http2MaxConcurrentStreams: countFlag('http2-max-streams-per-connection', f.http2MaxStreamsPerConnection, { max: 2 ** 32 - 1 }),
      keepaliveIntervalMs: durationFlag('keepalive-interval', f.keepaliveInterval, { min: 1 }),
      keepaliveCountMax: countFlag('keepalive-count', f.keepaliveCount),
    },
    shutdownGraceMs: durationFlag('shutdown-grace', f.shutdownGrace),
    lease: {
      leaseDurationMs: durationFlag('leader-elect-lease-duration', f.leaderElectLeaseDuration, { min: 1 }),
      renewDeadlineMs: durationFlag('leader-elect-renew-deadline', f.leaderElectRenewDeadline, { min: 1 }),
      retryPeriodMs: durationFlag('leader-elect-retry-period', f.leaderElectRetryPeriod, { min: 1 }),
    },
  };
}
