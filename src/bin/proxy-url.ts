/** `--proxy-server` as the Go agent reads it: http(s) → ws(s), default port added. */
import { UsageError } from './usage-error.js';

const SCHEMES: Record<string, string> = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' };

export function proxyWebSocketUrl(text: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) {
    throw new UsageError(`--proxy-server ${text}: missing scheme, use http://${text.replace(/^\/+/, '')} (or https://, ws://, wss://)`);
  }
  const port = /^[^:]+:\/\/(?:\[[^\]]*\]|[^/:?#]*):(\d+)(?:[/?#]|$)/.exec(text)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw new UsageError(`--proxy-server ${text}: port ${port} is out of range 1-65535`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--proxy-server ${text}: not a URL (example: http://proxy.example:8080)`);
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) throw new UsageError(`--proxy-server ${text}: scheme must be http, https, ws or wss`);
  if (!url.hostname) throw new UsageError(`--proxy-server ${text}: no host (example: http://proxy.example:8080)`);
  const secure = scheme === 'wss:';
  const defaultPort = secure ? '443' : '80';
  // WHATWG URLs keep the brackets of an IPv6 hostname.
  return `${scheme}//${url.hostname}:${url.port || defaultPort}${url.pathname}${url.search}`;
}
