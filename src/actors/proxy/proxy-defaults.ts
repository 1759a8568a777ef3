/**
 * Every timeout and limit of the proxy, with its default (as ws's WebSocketServer names
 * its options). The CLI flags override them; docs/security.md lists them.
 */
import { CONFIG_TIMEOUT_MS } from '../../protocol/constants.js';

export interface ProxyLimits {
  /** SSH handshake, from the WebSocket upgrade to the agent's authentication. */
  readonly handshakeTimeoutMs: number;
  /** From the end of the SSH handshake to the agent's `config` request. */
  readonly configTimeoutMs: number;
  /** Time the agent has to answer a channel open. */
  readonly channelOpenTimeoutMs: number;
  /** Time the failure reply has to reach a rejected agent before the close. */
  readonly rejectLingerMs: number;
  /** SSH keepalive probe of each agent every interval; dropped after this many misses. */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
}

export const PROXY_DEFAULTS: ProxyLimits = {
  handshakeTimeoutMs: 30_000,
  configTimeoutMs: CONFIG_TIMEOUT_MS,
  channelOpenTimeoutMs: 15_000,
  rejectLingerMs: 200,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
};
