/**
 * What the kube listener watches on each HTTP/2 connection, beyond what Node and nghttp2
 * bound (http2-options.ts):
 * - the pre-authentication deadline (armed at the TLS handshake) ends with the first stream;
 * - the connection is idle whenever no stream is open, and closed (GOAWAY) after the idle
 *   timeout — a watch that stays quiet is a stream open, not idleness;
 * - streams the client resets cost an upstream request each, which a reset frees at once
 *   and never waits on (CVE-2023-44487, "rapid reset"): past a burst and a rate of them,
 *   the connection is told GOAWAY and takes no new stream; its open ones finish.
 */
import type { ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../log.js';
import { clearDeadline } from './connection-deadline.js';
import type { ListenerLimits } from './proxy-defaults.js';

export type SessionGuardLimits = Pick<ListenerLimits, 'clientIdleTimeoutMs' | 'http2ResetStreamBurst' | 'http2ResetStreamsPerSecond'>;

export function guardSession(session: ServerHttp2Session, tls: TLSSocket, limits: SessionGuardLimits, log: Logger): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const resets = resetBudget(limits.http2ResetStreamBurst, limits.http2ResetStreamsPerSecond);
  session.on('stream', (stream) => {
    clearDeadline(tls);
    clearTimeout(idle);
    open += 1;
    // 'aborted' before the stream is destroyed: the client reset it mid-response (the
    // proxy's own resets destroy the stream first).
    stream.once('aborted', () => {
      if (stream.destroyed || resets.spend() || session.closed) return;
      log.warn({ remote: tls.remoteAddress, burst: limits.http2ResetStreamBurst, perSecond: limits.http2ResetStreamsPerSecond }, 'HTTP/2 client resets streams beyond its budget; closing its connection (GOAWAY)');
      session.close();
    });
    stream.once('close', () => {
      open -= 1;
      if (open > 0 || session.closed || session.destroyed) return;
      idle = setTimeout(() => session.close(), limits.clientIdleTimeoutMs);
      idle.unref();
    });
  });
  session.once('close', () => clearTimeout(idle));
}

/** A token bucket: `burst` at once, refilled at `perSecond`. `spend()` is false once empty. */
function resetBudget(burst: number, perSecond: number): { spend(): boolean } {
  let tokens = burst;
  let last = performance.now();
  return {
    spend: () => {
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
      last = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
