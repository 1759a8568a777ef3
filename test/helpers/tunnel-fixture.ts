/**
 * A whole tunnel on 127.0.0.1 for end-to-end tests: a member apiserver and ks-apiserver,
 * a proxy (in-process) serving cluster `alpha` from a clusters file, and agents started
 * on demand. `close()` stops everything and removes the temp dir.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from 'xstate';
import { startAgent, type AgentHandle } from '../../src/actors/agent/start-agent.js';
import type { AgentOptions } from '../../src/actors/agent/agent-options.js';
import { startProxy, type ProxyHandle, type ProxyOptions } from '../../src/actors/proxy/start-proxy.js';
import { silentLogger } from '../../src/log.js';
import { createSelfSignedCa, importCa, issueClientCert, type CaPem, type IssuedCert } from '../../src/pki/index.js';
import type { ClusterSource } from '../../src/cluster-sources/cluster-source.js';
import { openClusterFile } from '../../src/cluster-sources/cluster-file.js';
import { freePort } from './free-port.js';
import { MEMBER_TOKEN, startMemberApiserver, type MemberApiserver } from './member-apiserver.js';
import { until } from './wait.js';

export const CLUSTER = 'alpha';
export const CLUSTER_TOKEN = 'cluster-token-0123456789abcdef';

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface TunnelFixture {
  readonly dir: string;
  readonly member: MemberApiserver;
  readonly ksPort: number;
  readonly proxy: ProxyHandle;
  readonly proxyCa: CaPem;
  /** Client certificate signed by the proxy CA (what a kubeconfig from the proxy holds). */
  readonly client: IssuedCert;
  readonly kubePort: number;
  readonly kubespherePort: number;
  readonly clustersFile: string;
  readonly memberKubeconfig: string;
  readonly agents: AgentHandle[];
  addAgent(overrides?: Partial<AgentOptions>): Promise<AgentHandle>;
  waitConnected(agent: AgentHandle): Promise<void>;
  /** Resolve once the proxy has `n` serving sessions for `alpha` and its listeners are open (n=0: closed). */
  waitSessions(n: number): Promise<void>;
  /** A GET on any port of this proxy; `secure` presents the proxy-CA client certificate. */
  get(secure: boolean, port: number, path: string, options?: RequestOptions): Promise<HttpResult>;
  kubeGet(path: string, options?: RequestOptions): Promise<HttpResult>;
  ksGet(path: string): Promise<HttpResult>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  readonly memberAuth?: 'token' | 'cert';
  readonly proxy?: Partial<ProxyOptions>;
}

export async function startTunnelFixture(options: FixtureOptions = {}): Promise<TunnelFixture> {
  // What started so far, closed in reverse if a later step fails (a half-started fixture
  // would otherwise keep the test process alive).
  const started: Array<() => Promise<void>> = [];
  try {
    return await buildTunnelFixture(options, started);
  } catch (error) {
    for (const close of started.reverse()) await close().catch(() => {});
    throw error;
  }
}

async function buildTunnelFixture(options: FixtureOptions, started: Array<() => Promise<void>>): Promise<TunnelFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-e2e-'));
  started.push(() => rm(dir, { recursive: true, force: true }));
  const member = await startMemberApiserver(options.memberAuth ?? 'token');
  started.push(() => member.close());
  const ks = await startKsServer();
  started.push(() => ks.close());
  const proxyCa = await createSelfSignedCa({ commonName: 'tower-proxy-ca' });
  const client = await issueClientCert(await importCa(proxyCa), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
  const kubePort = await freePort();
  const kubespherePort = await freePort();
  const clustersFile = join(dir, 'clusters.yaml');
  await writeFile(clustersFile, clusterYaml(CLUSTER, CLUSTER_TOKEN, kubePort, kubespherePort));
  const memberKubeconfig = join(dir, 'member.kubeconfig');
  await writeFile(memberKubeconfig, memberKubeconfigYaml(member, options.memberAuth ?? 'token'));
  const clusters: ClusterSource = await openClusterFile(clustersFile);
  started.push(() => clusters.close());
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    ca: proxyCa,
    clusters,
    logger: silentLogger(),
    pkiMode: 'inline',
    ...options.proxy,
  });
  const agents: AgentHandle[] = [];

  const request = (secure: boolean, port: number, path: string, extra: RequestOptions = {}) =>
    new Promise<HttpResult>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        {
          host: '127.0.0.1',
          port,
          path,
          agent: false,
          ...(secure ? { ca: proxyCa.certPem, cert: client.certPem, key: client.keyPem } : {}),
          ...extra,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });

  const fixture: TunnelFixture = {
    dir,
    member,
    ksPort: ks.port,
    proxy,
    proxyCa,
    client,
    kubePort,
    kubespherePort,
    clustersFile,
    memberKubeconfig,
    agents,
    addAgent: async (overrides = {}) => {
      const agent = await startAgent({
        name: CLUSTER,
        token: CLUSTER_TOKEN,
        proxyUrl: `ws://127.0.0.1:${proxy.port}`,
        credentials: { kind: 'kubeconfig', path: memberKubeconfig },
        kubesphereService: `127.0.0.1:${ks.port}`,
        keepaliveMs: 30_000,
        maxRetry: 0,
        backoff: { minMs: 50, maxMs: 500, factor: 1.4 },
        handshakeTimeoutMs: 10_000,
        dialTimeoutMs: 5_000,
        logger: silentLogger(),
        ...overrides,
      });
      agents.push(agent);
      return agent;
    },
    waitConnected: async (agent) => {
      await waitFor(agent.actor, (s) => s.matches({ session: 'connected' }), { timeout: 10_000 });
    },
    waitSessions: (n) =>
      until(
        () => {
          const gateway = proxy.gateways.get(CLUSTER);
          const count = gateway?.sessionCount ?? 0;
          // The listeners are held while the cluster is served, agents or not.
          return count === n && Boolean(gateway?.listening);
        },
        (onChange) => proxy.onChange(onChange),
        `${n} serving session(s) for ${CLUSTER}`,
      ),
    get: request,
    kubeGet: (path, extra) => request(true, kubePort, path, extra),
    ksGet: (path) => request(false, kubespherePort, path),
    close: async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await proxy.stop();
      await clusters.close();
      await member.close();
      await ks.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

export function clusterYaml(name: string, token: string, kubePort: number, ksPort: number): string {
  return [
    'apiVersion: cluster.kubesphere.io/v1alpha1',
    'kind: Cluster',
    `metadata: {name: ${name}}`,
    'spec:',
    '  joinFederation: true',
    '  connection:',
    '    type: proxy',
    `    token: ${token}`,
    `    kubernetesAPIServerPort: ${kubePort}`,
    `    kubesphereAPIServerPort: ${ksPort}`,
    '',
  ].join('\n');
}

function memberKubeconfigYaml(member: MemberApiserver, auth: 'token' | 'cert'): string {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const user =
    auth === 'token'
      ? `{token: ${MEMBER_TOKEN}}`
      : `{client-certificate-data: ${b64(member.agentCert.certPem)}, client-key-data: ${b64(member.agentCert.keyPem)}}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: member, cluster: {server: "https://127.0.0.1:${member.port}", certificate-authority-data: ${b64(member.ca.certPem)}}}]`,
    `users: [{name: agent, user: ${user}}]`,
    'contexts: [{name: member, context: {cluster: member, user: agent}}]',
    'current-context: member',
    '',
  ].join('\n');
}

/** Plain-HTTP stand-in for ks-apiserver: answers with the path and Authorization it saw. */
async function startKsServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: HttpServer = createHttpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ks: true, path: req.url, authorization: req.headers.authorization ?? null }));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
