/**
 * The agent honours HTTP(S)_PROXY and NO_PROXY from its environment, as the Go agent does
 * (gorilla's dialer with http.ProxyFromEnvironment): a ws:// proxy server is reached
 * through HTTP_PROXY, a wss:// one through HTTPS_PROXY, with an HTTP CONNECT tunnel.
 */
import type { Agent } from 'node:http';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';

export interface EnvProxy {
  readonly agent: Agent;
  /** Where the tunnel goes, without any credentials in the proxy URL (for logs). */
  readonly display: string;
}

export function proxyFromEnvironment(webSocketUrl: string): EnvProxy | undefined {
  const target = new URL(webSocketUrl);
  target.protocol = target.protocol === 'wss:' ? 'https:' : 'http:';
  const proxy = getProxyForUrl(target.href);
  if (!proxy) return undefined;
  const url = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
  return { agent: new HttpsProxyAgent(url), display: `${url.protocol}//${url.host}` };
}
