/** `--proxy-server` as the Go agent reads it: http(s) → ws(s), default port added. */
import { UsageError } from './usage-error.js';

export function proxyWebSocketUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--proxy-server ${text}: not a URL (example: http://proxy.example:8080)`);
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[url.protocol];
  if (!scheme) throw new UsageError(`--proxy-server ${text}: scheme must be http, https, ws or wss`);
  const secure = scheme === 'wss:';
  const port = url.port || (secure ? '443' : '80');
  return `${scheme}//${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${port}${url.pathname}${url.search}`;
}
