/**
 * Every timeout and limit of the proxy, with its default (as ws's WebSocketServer names
 * its options). The CLI flags override them; docs/security.md lists them.
 */
import { CONFIG_TIMEOUT_MS } from '../../protocol/constants.js';

export interface ProxyLimits {
  /** Before authentication: time a connection has to send its request head (every port; TLS included on the kube listeners). */
  readonly requestTimeoutMs: number;
  /** SSH handshake, from the WebSocket upgrade to the agent's authentication. */
  readonly handshakeTimeoutMs: number;
  /** From the end of the SSH handshake to the agent's `config` request. */
  readonly configTimeoutMs: number;
  /** Agent-port connections not yet accepted by a config; beyond it new ones are refused at once. */
  readonly maxUnauthenticated: number;
  /** Idle keep-alive client connections on the cluster listeners are closed after this. */
  readonly clientIdleTimeoutMs: number;
  /** Time the agent has to answer a channel open. */
  readonly channelOpenTimeoutMs: number;
  /** Time the failure reply has to reach a rejected agent before the close. */
  readonly rejectLingerMs: number;
  /**
   * SSH keepalive: a probe after each interval of silence; an agent silent for
   * interval × (count + 1) is dropped (30 s by default), and suspect (no new requests)
   * once a probe went unanswered for 2 s (at most half an interval).
   */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  /**
   * HTTP/2 on the kube listeners (docs/security.md): streams one connection may have open
   * at once (SETTINGS_MAX_CONCURRENT_STREAMS; kube-apiserver's 250: client-go opens another
   * connection beyond it).
   */
  readonly http2MaxConcurrentStreams: number;
  /** Decoded size of one request's header list (RFC 9113 §6.5.2: names + values + 32 per field). */
  readonly http2MaxHeaderListBytes: number;
  /** Fields in one request's header list, pseudo-headers included. */
  readonly http2MaxHeaderListPairs: number;
  /** Request body a client may send on one stream before the proxy reads it (initial window). */
  readonly http2StreamWindowBytes: number;
  /** Request body in flight on one connection, all streams together (connection window). */
  readonly http2ConnectionWindowBytes: number;
  /** Memory one connection's HTTP/2 state may take (Node's maxSessionMemory, MiB): beyond it new streams are refused. */
  readonly http2MaxSessionMemoryMiB: number;
  /** Invalid frames, and streams refused for breaking a limit, before the connection is closed. */
  readonly http2MaxInvalidFrames: number;
  readonly http2MaxRejectedStreams: number;
  /**
   * Streams a client may reset mid-response (each cost an upstream request): a burst, then
   * so many a second; beyond, its connection is told GOAWAY.
   */
  readonly http2ResetStreamBurst: number;
  readonly http2ResetStreamsPerSecond: number;
}

export const PROXY_DEFAULTS: ProxyLimits = {
  requestTimeoutMs: 10_000,
  handshakeTimeoutMs: 20_000,
  configTimeoutMs: CONFIG_TIMEOUT_MS,
  maxUnauthenticated: 512,
  clientIdleTimeoutMs: 120_000,
  channelOpenTimeoutMs: 15_000,
  rejectLingerMs: 200,
  keepaliveIntervalMs: 10_000,
  keepaliveCountMax: 2,
  http2MaxConcurrentStreams: 250,
  http2MaxHeaderListBytes: 64 * 1024,
  http2MaxHeaderListPairs: 128,
  http2StreamWindowBytes: 256 * 1024,
  http2ConnectionWindowBytes: 1024 * 1024,
  http2MaxSessionMemoryMiB: 10,
  http2MaxInvalidFrames: 1000,
  http2MaxRejectedStreams: 100,
  http2ResetStreamBurst: 100,
  http2ResetStreamsPerSecond: 10,
};

/** What the cluster listeners use. */
export type ListenerLimits = Pick<
  ProxyLimits,
  | 'requestTimeoutMs'
  | 'clientIdleTimeoutMs'
  | 'http2MaxConcurrentStreams'
  | 'http2MaxHeaderListBytes'
  | 'http2MaxHeaderListPairs'
  | 'http2StreamWindowBytes'
  | 'http2ConnectionWindowBytes'
  | 'http2MaxSessionMemoryMiB'
  | 'http2MaxInvalidFrames'
  | 'http2MaxRejectedStreams'
  | 'http2ResetStreamBurst'
  | 'http2ResetStreamsPerSecond'
>;
