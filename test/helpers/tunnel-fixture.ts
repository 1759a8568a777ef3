/**
 * A whole tunnel on 127.0.0.1 for end-to-end tests: a member apiserver and ks-apiserver,
 * a proxy (in-process) serving cluster `alpha` from a clusters file, and agents started
 * on demand. `close()` stops everything and removes the temp dir.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { EventEmitter } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
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
import { nextEvent, until } from './wait.js';
import { startKsStandIn } from './ks-stand-in.js';

export const CLUSTER = 'alpha';
export const CLUSTER_TOKEN = 'cluster-token-0123456789abcdef';

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The body as received, byte for byte. */
  readonly bytes: Buffer;
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
  /**
   * An agent that reaches the member with its own bearer `token` (accepted by the member),
   * so `member.seen` tells which agent carried each request.
   */
  addAgentWithToken(token: string): Promise<AgentHandle>;
  waitConnected(agent: AgentHandle): Promise<void>;
  /** Resolve once the proxy has `n` serving sessions for `alpha` and its listeners are open (n=0: closed). */
  waitSessions(n: number): Promise<void>;
  /** A GET on any port of this proxy; `secure` presents the proxy-CA client certificate. */
  get(secure: boolean, port: number, path: string, options?: RequestOptions): Promise<HttpResult>;
  kubeGet(path: string, options?: RequestOptions): Promise<HttpResult>;
  /**
   * `n` sequential GET /version on the kube listener, each of which must answer 200: how
   * many the member saw with each bearer token (with addAgentWithToken: per agent).
   */
  getVersions(n: number): Promise<Record<string, number>>;
  ksGet(path: string): Promise<HttpResult>;
  /** Open a watch on the kube listener; resolves once the member holds it open. */
  watch(path: string): Promise<WatchStream>;
  /** One watch per agent of addAgentWithToken (round-robin places them), by member token. */
  watchOnEachAgent(tokens: readonly string[]): Promise<Map<string, WatchStream>>;
  close(): Promise<void>;
}

/** A watch response as it streams through the tunnel, one line per event. */
export interface WatchStream {
  readonly lines: readonly string[];
  /** Resolves once a line containing `text` arrived (bounded). */
  line(text: string): Promise<void>;
  /** Resolves when the response is over: `complete` false if it was cut. */
  readonly closed: Promise<{ complete: boolean }>;
  close(): void;
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
  const ks = await startKsStandIn();
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
          res.on('end', () => {
            const bytes = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });

  const watch = async (path: string): Promise<WatchStream> => {
    const opened = nextEvent(member.events, 'watch-open', `the member to see the watch ${path}`);
    const req = httpsRequest({ host: '127.0.0.1', port: kubePort, path, agent: false, ca: proxyCa.certPem, cert: client.certPem, key: client.keyPem });
    req.on('error', () => {}); // a cut shows as `closed` with complete: false
    const response = nextEvent<IncomingMessage>(req, 'response', `the response headers of the watch ${path}`).then((res) => {
      if (res.statusCode !== 200) throw new Error(`watch ${path}: HTTP ${res.statusCode}`);
      return res;
    });
    req.end();
    const [res] = await Promise.all([response, opened]);
    const lines: string[] = [];
    const arrived = new EventEmitter();
    res.on('error', () => {});
    res.setEncoding('utf8');
    let partial = '';
    res.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
      arrived.emit('line');
    });
    const closed = new Promise<{ complete: boolean }>((resolve) => res.once('close', () => resolve({ complete: res.complete })));
    return {
      lines,
      line: (text) =>
        until(
          () => lines.some((l) => l.includes(text)),
          (onChange) => {
            arrived.on('line', onChange);
            return () => arrived.off('line', onChange);
          },
          `a watch line with ${text}`,
        ),
      closed,
      close: () => req.destroy(),
    };
  };

  let watchesOpened = 0;
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
    addAgentWithToken: async (token) => {
      member.tokens.add(token);
      const path = join(dir, `member-${member.tokens.size}.kubeconfig`);
      await writeFile(path, memberKubeconfigYaml(member, 'token', token));
      return fixture.addAgent({ credentials: { kind: 'kubeconfig', path } });
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
    getVersions: async (n) => {
      const from = member.seen.length;
      for (let i = 0; i < n; i++) {
        const res = await request(true, kubePort, '/version');
        if (res.status !== 200) throw new Error(`GET /version ${i + 1} of ${n}: HTTP ${res.status} ${res.body}`);
      }
      const counts: Record<string, number> = {};
      for (const { authorization = 'none' } of member.seen.slice(from)) {
        const token = authorization.replace(/^Bearer /, '');
        counts[token] = (counts[token] ?? 0) + 1;
      }
      return counts;
    },
    ksGet: (path) => request(false, kubespherePort, path),
    watch,
    watchOnEachAgent: async (tokens) => {
      const byToken = new Map<string, WatchStream>();
      for (let i = 0; i < tokens.length; i++) {
        const path = `/api/v1/namespaces/watch-${(watchesOpened += 1)}`;
        const stream = await watch(`${path}?watch=1`);
        const authorization = member.seen.find((s) => s.path === path)?.authorization ?? 'none';
        byToken.set(authorization.replace(/^Bearer /, ''), stream);
      }
      if (!tokens.every((token) => byToken.has(token))) throw new Error(`watches not one per agent: carried by ${[...byToken.keys()].join(', ')}`);
      return byToken;
    },
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

export function memberKubeconfigYaml(member: MemberApiserver, auth: 'token' | 'cert', token = MEMBER_TOKEN): string {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const user =
    auth === 'token'
      ? `{token: ${token}}`
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
