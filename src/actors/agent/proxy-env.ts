/**
 * The agent honours HTTP(S)_PROXY and NO_PROXY from its environment, as the Go agent does
 * (gorilla's dialer with http.ProxyFromEnvironment): a ws:// proxy server is reached
 * through HTTP_PROXY, a wss:// one through HTTPS_PROXY, with an HTTP CONNECT tunnel.
 * The modules that do it are imported only when a proxy variable is set (most agents
 * have none; https-proxy-agent alone costs several MB).
 */
import type { Agent } from 'node:http';

export interface EnvProxy {
  readonly agent: Agent;
  /** Where the tunnel goes, without any credentials in the proxy URL (for logs). */
  readonly display: string;
}

/** The variables proxy-from-env reads to pick a proxy (either case). */
const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'all_proxy'];

export async function proxyFromEnvironment(webSocketUrl: string): Promise<EnvProxy | undefined> {
  if (!PROXY_VARIABLES.some((name) => process.env[name] || process.env[name.toUpperCase()])) return undefined;
  const [{ getProxyForUrl }, { HttpsProxyAgent }] = await Promise.all([import('proxy-from-env'), import('https-proxy-agent')]);
  const target = new URL(webSocketUrl);
  target.protocol = target.protocol === 'wss:' ? 'https:' : 'http:';
  const proxy = getProxyForUrl(target.href);
  if (!proxy) return undefined;
  const url = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
  return { agent: new HttpsProxyAgent(url), display: `${url.protocol}//${url.host}` };
}
