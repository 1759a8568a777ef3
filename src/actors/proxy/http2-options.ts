/**
 * What an HTTP/2 client of a kube listener may send, from the proxy's limits
 * (docs/security.md lists them with their reasons). Besides these, nghttp2 (inside Node)
 * ends a connection that floods it — more than 1000 PING or SETTINGS acknowledgements
 * queued unsent, a header block in too many CONTINUATION frames — and Node 20 offers no
 * option for either; streams reset by the client are budgeted in http2-session-guard.ts.
 */
import type { ServerOptions } from 'node:http2';
import type { ListenerLimits } from './proxy-defaults.js';

export function http2ServerOptions(limits: ListenerLimits): ServerOptions {
  return {
    settings: {
      maxConcurrentStreams: limits.http2MaxConcurrentStreams,
      maxHeaderListSize: limits.http2MaxHeaderListBytes,
      initialWindowSize: limits.http2StreamWindowBytes,
      // Not sent, so off: extended CONNECT (RFC 8441, WebSocket over HTTP/2). Upgrades come
      // on HTTP/1.1 connections, as kubectl opens them; a `:protocol` request is reset.
    },
    maxHeaderListPairs: limits.http2MaxHeaderListPairs,
    maxSessionMemory: limits.http2MaxSessionMemoryMiB,
    maxSessionInvalidFrames: limits.http2MaxInvalidFrames,
    maxSessionRejectedStreams: limits.http2MaxRejectedStreams,
  };
}
