/**
 * One cluster served through the real proxy and the real agent, and the load targets of
 * its two paths, through the tunnel and directly against the same upstream.
 */
import { request as httpsRequest } from 'node:https';
import { HOST, type AgentChild, type BenchCluster, type BenchEnv, type ProxyChild } from './bench-env.js';
import type { LoadTarget } from './bench-load-jobs.js';

export interface Tunnel {
  readonly cluster: BenchCluster;
  readonly proxy: ProxyChild;
  readonly agent: AgentChild;
  readonly paths: Paths;
  /** Stop the agent, then the proxy. */
  stop(): Promise<void>;
}

export interface TunnelStart {
  /** Names the cluster and the children's logs. */
  readonly name: string;
  readonly inspect?: boolean;
  /** The port the agent dials, given the proxy's (e.g. a relay in front of it); default the proxy's. */
  readonly agentDial?: (proxyPort: number) => Promise<number>;
  /** Member kubeconfig for the agent (default the bench upstream's). */
  readonly kubeconfig?: string;
}

/** A fresh proxy serving one cluster and the real agent for it, once `/version` answers through it. */
export async function startTunnel(env: BenchEnv, options: TunnelStart): Promise<Tunnel> {
  const [cluster] = await env.clusters(options.name, 1);
  const [proxyPort] = await env.ports(1);
  const clustersFile = await env.writeClusters(`clusters-${options.name}.json`, [cluster!]);
  const proxy = await env.startProxy({ port: proxyPort!, clustersFile, inspect: options.inspect ?? false, logName: `proxy-${options.name}` });
  let agent: AgentChild | undefined;
  try {
    const dialPort = options.agentDial ? await options.agentDial(proxyPort!) : proxyPort!;
    agent = env.startAgent({ proxyPort: proxyPort!, dialPort, cluster: cluster!, logName: `agent-${options.name}`, ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}) });
    await waitTunnel(env, cluster!, 30_000);
  } catch (error) {
    await agent?.stop();
    await proxy.child.stop();
    throw error;
  }
  const running = agent;
  return {
    cluster: cluster!,
    proxy,
    agent: running,
    paths: targets(env, cluster!),
    stop: async () => {
      await running.stop();
      await proxy.child.stop();
    },
  };
}

/** One path to the member: through the tunnel, and directly. */
export interface PathPair {
  readonly direct: LoadTarget;
  readonly tunnel: LoadTarget;
}

export interface Paths {
  /** `directCert`: the member directly, authenticated with a client certificate as the tunnel's clients are. */
  readonly kube: PathPair & { readonly directCert: LoadTarget };
  readonly ks: PathPair;
}

export function targets(env: BenchEnv, cluster: BenchCluster): Paths {
  const { upstream, proxyCa, client } = env;
  return {
    kube: {
      direct: { url: `https://${HOST}:${upstream.kubePort}`, ca: upstream.memberCa.certPem, headers: { authorization: `Bearer ${upstream.bearerToken}` } },
      directCert: { url: `https://${HOST}:${upstream.kubePort}`, ca: upstream.memberCa.certPem, cert: upstream.memberClient.certPem, key: upstream.memberClient.keyPem },
      tunnel: { url: `https://${HOST}:${cluster.kubePort}`, ca: proxyCa.certPem, cert: client.certPem, key: client.keyPem },
    },
    ks: {
      direct: { url: `http://${HOST}:${upstream.ksPort}` },
      tunnel: { url: `http://${HOST}:${cluster.ksPort}` },
    },
  };
}

/** Poll `GET /version` on the cluster's kube listener until the tunnel answers 200. */
export async function waitTunnel(env: BenchEnv, cluster: BenchCluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const status = await new Promise<number | string>((resolve) => {
      const req = httpsRequest(
        { host: HOST, port: cluster.kubePort, path: '/version', agent: false, ca: env.proxyCa.certPem, cert: env.client.certPem, key: env.client.keyPem },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(res.statusCode === 200 ? 200 : `HTTP ${res.statusCode}: ${body.trim().slice(0, 300)}`));
          res.on('error', (error) => resolve(error.message));
        },
      );
      req.setTimeout(2_000, () => req.destroy(new Error('timeout')));
      req.on('error', (error) => resolve(error.message));
      req.end();
    });
    if (status === 200) return;
    last = String(status);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the tunnel for ${cluster.name} did not answer /version within ${timeoutMs} ms (last: ${last})`);
}
