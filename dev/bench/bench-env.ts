/**
 * What every bench phase shares: a temp dir, the proxy CA and a client certificate it
 * signed, the upstreams, a pool of free ports on 127.0.0.1, and the child-process
 * registry. Also writes `--clusters` files and starts the real proxy and agent binaries.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSelfSignedCa, importCa, issueClientCert, type CaPem, type IssuedCert } from '../../src/pki/index.js';
import { BenchChildren, type BenchChild } from './bench-children.js';
import { inspectorUrl } from './bench-inspector.js';
import { Probe, probeSpawn } from './bench-probe-client.js';
import { DEFAULT_SETTLE_MS } from './bench-memory.js';
import { startBenchUpstream, type BenchUpstream } from './bench-upstream.js';
import { NODE_FLAGS } from '../../src/bin/node-flags.js';

/** Repository root (this file is dist/dev/bench/bench-env.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const HOST = '127.0.0.1';

export interface BenchCluster {
  readonly name: string;
  readonly token: string;
  readonly kubePort: number;
  readonly ksPort: number;
}

export interface ProxyChild {
  readonly child: BenchChild;
  readonly port: number;
  /** Inspector WebSocket URL when started with `inspect`. */
  readonly inspector: string | undefined;
  /** Memory, heap snapshots and event-loop delay from inside the proxy (bench-probe.ts). */
  readonly probe: Probe;
}

export interface AgentChild extends BenchChild {
  readonly probe: Probe;
}

export interface ProxyStart {
  readonly port: number;
  /** `--clusters FILE` mode. */
  readonly clustersFile?: string;
  /** Kubernetes mode instead: `--kubeconfig FILE --publish-service-address 127.0.0.1`. */
  readonly kubeconfig?: string;
  readonly inspect?: boolean;
  readonly logName: string;
  /** How long /health may take to answer (default 30 s). */
  readonly healthTimeoutMs?: number;
  /** More proxy flags, e.g. `--data-plane-threads 2`. */
  readonly extraArgs?: readonly string[];
}

export interface AgentStart {
  readonly proxyPort: number;
  readonly cluster: BenchCluster;
  readonly logName: string;
  /** Where the agent dials instead of the proxy port (e.g. a delaying relay in front of it). */
  readonly dialPort?: number;
  /** Member kubeconfig (default: the bench upstream's). */
  readonly kubeconfig?: string;
}

export interface BenchEnv {
  readonly dir: string;
  readonly children: BenchChildren;
  readonly upstream: BenchUpstream;
  readonly proxyCa: CaPem;
  /** Signed by the proxy CA: what a kubeconfig from the proxy holds. */
  readonly client: IssuedCert;
  readonly caCertFile: string;
  readonly caKeyFile: string;
  readonly memberKubeconfig: string;
  /** Extra node flags for every proxy child (e.g. --cpu-prof). */
  readonly proxyNodeArgs: readonly string[];
  /** Extra node flags for every agent child. */
  readonly agentNodeArgs: readonly string[];
  /** How long a memory reading waits for V8 to settle the child's heap (bench-memory.ts); 0: not at all. */
  readonly settleMs: number;
  ports(n: number): Promise<number[]>;
  clusters(prefix: string, n: number): Promise<BenchCluster[]>;
  writeClusters(file: string, clusters: readonly BenchCluster[]): Promise<string>;
  startProxy(options: ProxyStart): Promise<ProxyChild>;
  startAgent(options: AgentStart): AgentChild;
  /** A member kubeconfig (bearer token, member CA) for the bench upstream's kube server on `port`. */
  writeMemberKubeconfig(file: string, port: number): Promise<string>;
  close(): Promise<void>;
}

/** Ports below the ephemeral range, so outgoing connections do not take them meanwhile. */
const PORT_LOW = 20_000;
const PORT_HIGH = 32_000;

export async function createBenchEnv(
  options: { proxyNodeArgs?: readonly string[]; agentNodeArgs?: readonly string[]; keep?: boolean; settleMs?: number } = {},
): Promise<BenchEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-bench-'));
  const removeDir = () => (options.keep ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  const children = new BenchChildren(removeDir);
  const upstream = await startBenchUpstream();
  const proxyCa = await createSelfSignedCa({ commonName: 'tower-bench-proxy-ca' });
  const client = await issueClientCert(await importCa(proxyCa), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
  const caCertFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  await writeFile(caCertFile, proxyCa.certPem);
  await writeFile(caKeyFile, proxyCa.keyPem, { mode: 0o600 });
  const memberKubeconfig = join(dir, 'member.kubeconfig');
  await writeFile(memberKubeconfig, memberKubeconfigYaml(upstream, upstream.kubePort), { mode: 0o600 });
  const taken = new Set<number>();
  let cursor = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));

  const ports = async (n: number): Promise<number[]> => {
    const found: number[] = [];
    for (let tries = 0; found.length < n && tries < PORT_HIGH - PORT_LOW; tries++) {
      cursor = cursor + 1 >= PORT_HIGH ? PORT_LOW : cursor + 1;
      if (taken.has(cursor) || !(await portFree(cursor))) continue;
      taken.add(cursor);
      found.push(cursor);
    }
    if (found.length < n) throw new Error(`only ${found.length} of ${n} free ports in ${PORT_LOW}-${PORT_HIGH}`);
    return found;
  };

  const env: BenchEnv = {
    dir,
    children,
    upstream,
    proxyCa,
    client,
    caCertFile,
    caKeyFile,
    memberKubeconfig,
    proxyNodeArgs: options.proxyNodeArgs ?? [],
    agentNodeArgs: options.agentNodeArgs ?? [],
    settleMs: options.settleMs ?? DEFAULT_SETTLE_MS,
    ports,
    clusters: async (prefix, n) => {
      const p = await ports(2 * n);
      return Array.from({ length: n }, (_, i) => ({
        name: `${prefix}-${i}`,
        token: randomBytes(16).toString('hex'),
        kubePort: p[2 * i]!,
        ksPort: p[2 * i + 1]!,
      }));
    },
    writeClusters: async (file, clusters) => {
      const path = join(dir, file);
      await writeFile(path, JSON.stringify(clusters.map(clusterObject)), { mode: 0o600 });
      return path;
    },
    startProxy: async ({ port, clustersFile, kubeconfig, inspect, logName, healthTimeoutMs, extraArgs }) => {
      if ((clustersFile === undefined) === (kubeconfig === undefined)) throw new Error('startProxy: give clustersFile or kubeconfig');
      const base = join(dir, `probe-${logName}`);
      const probed = probeSpawn(REPO_ROOT, base);
      const source = clustersFile !== undefined ? ['--clusters', clustersFile] : ['--kubeconfig', kubeconfig!, '--publish-service-address', HOST];
      const child = children.spawn(logName, {
        cwd: REPO_ROOT,
        stdoutFile: join(dir, `${logName}.log`),
        env: probed.env,
        args: [
          ...NODE_FLAGS,
          ...env.proxyNodeArgs,
          ...probed.nodeArgs,
          ...(inspect ? ['--inspect=127.0.0.1:0'] : []),
          join(REPO_ROOT, 'bin/proxy'),
          '--ca-cert', caCertFile,
          '--ca-key', caKeyFile,
          ...source,
          '--host', HOST,
          '--port', String(port),
          ...(extraArgs ?? []),
        ],
      });
      await waitHealthy(child, port, healthTimeoutMs ?? 30_000);
      return { child, port, inspector: inspect ? await inspectorUrl(child) : undefined, probe: new Probe(child, base) };
    },
    startAgent: ({ proxyPort, cluster, logName, dialPort, kubeconfig }) => {
      const base = join(dir, `probe-${logName}`);
      const probed = probeSpawn(REPO_ROOT, base);
      const child = children.spawn(logName, {
        cwd: REPO_ROOT,
        stdoutFile: join(dir, `${logName}.log`),
        env: probed.env,
        args: [
          ...NODE_FLAGS,
          ...env.agentNodeArgs,
          ...probed.nodeArgs,
          join(REPO_ROOT, 'bin/agent'),
          '--name', cluster.name,
          '--token', cluster.token,
          '--proxy-server', `http://${HOST}:${dialPort ?? proxyPort}`,
          '--kubeconfig', kubeconfig ?? memberKubeconfig,
          '--kubesphere-service', `${HOST}:${upstream.ksPort}`,
          '--max-retry-interval', '5s',
        ],
      });
      return { ...child, probe: new Probe(child, base) };
    },
    writeMemberKubeconfig: async (file, port) => {
      const path = join(dir, file);
      await writeFile(path, memberKubeconfigYaml(upstream, port), { mode: 0o600 });
      return path;
    },
    close: async () => {
      await children.stopAll();
      await upstream.close();
      await removeDir();
    },
  };
  return env;
}

function clusterObject(cluster: BenchCluster) {
  return {
    apiVersion: 'cluster.kubesphere.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: cluster.name },
    spec: {
      joinFederation: true,
      connection: {
        type: 'proxy',
        token: cluster.token,
        kubernetesAPIServerPort: cluster.kubePort,
        kubesphereAPIServerPort: cluster.ksPort,
      },
    },
  };
}

function memberKubeconfigYaml(upstream: BenchUpstream, port: number): string {
  const ca = Buffer.from(upstream.memberCa.certPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: member, cluster: {server: "https://${HOST}:${port}", certificate-authority-data: ${ca}}}]`,
    `users: [{name: agent, user: {token: ${upstream.bearerToken}}}]`,
    'contexts: [{name: member, context: {cluster: member, user: agent}}]',
    'current-context: member',
    '',
  ].join('\n');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** Poll `GET /health` until 200; fail early if the child exits. */
export async function waitHealthy(child: BenchChild, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.hasExited()) throw new Error(`${child.name} exited before serving: ${child.stderrTail().trim().slice(-500)}`);
    if (await healthy(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${child.name}: /health did not answer within ${timeoutMs} ms`);
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path: '/health', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    // Generous: under a reconnect storm the request waits in the accept queue behind the agents.
    req.setTimeout(5_000, () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
