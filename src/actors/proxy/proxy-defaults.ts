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
   * once a probe went unanswered for 3 s.
   */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
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
};
