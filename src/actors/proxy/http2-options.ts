/**
 * What an HTTP/2 client of a kube listener may send, from the proxy's limits
 * (docs/security.md lists them with their reasons). Besides these, nghttp2 (inside Node)
 * closes a connection that floods it: more than 1000 PING or SETTINGS acknowledgements
 * queued unread, or RST_STREAM beyond a burst of 1000 and 33 a second (CVE-2023-44487);
 * Node 20 offers no option for either.
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
