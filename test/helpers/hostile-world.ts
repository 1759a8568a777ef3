/**
 * The stage of the hostile-peer suite: the real bin/proxy serving two clusters from a
 * clusters file on 127.0.0.1 — `good`, with the real bin/agent in front of a member
 * apiserver and a ks-apiserver stand-in, and `evil`, whose token the attacker holds — plus
 * a probe that plays a good client of `good` on both its listeners and times it.
 * `close()` stops every process and server it started.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedChild } from '../../dev/demo/child.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { pickFreePort } from '../../dev/demo/ports.js';
import { ADMIN_CLIENT, createSelfSignedCa, importCa, issueClientCert, type CaPem, type IssuedCert } from '../../src/pki/index.js';
import { freePort } from './free-port.js';
import { MEMBER_TOKEN, startMemberApiserver, type MemberApiserver } from './member-apiserver.js';
import { clusterYaml } from './tunnel-fixture.js';
import { startKsStandIn } from './ks-stand-in.js';

export interface WorldCluster {
  readonly name: string;
  readonly token: string;
  readonly kubePort: number;
  readonly ksPort: number;
}

export interface ProbeResult {
  readonly kubeMs: number;
  readonly ksMs: number;
}

export interface HostileWorld {
  readonly dir: string;
  readonly ca: CaPem;
  /** An unbound client certificate signed by the proxy CA (as the README's openssl one). */
  readonly client: IssuedCert;
  readonly proxy: ManagedChild;
  readonly proxyPort: number;
  readonly good: WorldCluster;
  readonly evil: WorldCluster;
  /** A third cluster, for timing good agents' connects without touching `good`'s traffic. */
  readonly spare: WorldCluster;
  readonly member: MemberApiserver;
  readonly ksPort: number;
  readonly memberKubeconfig: string;
  /** The good agent (bin/agent for `good`); undefined with `goodAgent: false`. */
  readonly goodAgent: ManagedChild | undefined;
  /** A good client of `good`: GET /version on its kube listener and GET on its ks listener. */
  probe(timeoutMs?: number): Promise<ProbeResult>;
  /** Start bin/agent for a cluster of this world (e.g. a second good agent). */
  startAgent(cluster: WorldCluster, extraArgs?: readonly string[]): Promise<ManagedChild>;
  /** The proxy's log from `from` (an offset into its output) on. */
  proxyLog(from?: number): string;
  close(): Promise<void>;
}

export interface HostileWorldOptions {
  /** Extra bin/proxy flags (e.g. lowered limits, --data-plane-threads 2). */
  readonly proxyArgs?: readonly string[];
  /** Extra flags of the good agent. */
  readonly agentArgs?: readonly string[];
  /** Start the good agent (default true). */
  readonly goodAgent?: boolean;
}

const PROXY = join(PACKAGE_ROOT, 'bin', 'proxy');
const AGENT = join(PACKAGE_ROOT, 'bin', 'agent');
const START_TIMEOUT_MS = 20_000;

export async function startHostileWorld(options: HostileWorldOptions = {}): Promise<HostileWorld> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };
  try {
    return await build(options, cleanups, close);
  } catch (error) {
    await close();
    throw error;
  }
}

async function build(
  options: HostileWorldOptions,
  cleanups: Array<() => Promise<unknown>>,
  close: () => Promise<void>,
): Promise<HostileWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-hostile-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const member = await startMemberApiserver('token');
  cleanups.push(() => member.close());
  const ks = await startKsStandIn();
  cleanups.push(() => ks.close());
  const ca = await createSelfSignedCa({ commonName: 'tower-hostile-ca' });
  const client = await issueClientCert(await importCa(ca), ADMIN_CLIENT);
  const cluster = async (name: string, token: string): Promise<WorldCluster> => ({ name, token, kubePort: await freePort(), ksPort: await freePort() });
  const good = await cluster('good', 'good-token-6f1d2c3b4a5968778695a4b3');
  const evil = await cluster('evil', 'evil-token-0a1b2c3d4e5f60718293a4b5');
  const spare = await cluster('spare', 'spare-token-5a4b3c2d1e0f9a8b7c6d5e4f');
  const files = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    clusters: join(dir, 'clusters.yaml'),
    member: join(dir, 'member.kubeconfig'),
  };
  await writeFile(files.caCert, ca.certPem);
  await writeFile(files.caKey, ca.keyPem, { mode: 0o600 });
  await writeFile(files.clusters, [good, evil, spare].map((c) => clusterYaml(c.name, c.token, c.kubePort, c.ksPort)).join('---\n'), { mode: 0o600 });
  await writeFile(files.member, memberKubeconfig(member), { mode: 0o600 });

  const proxyPort = await pickFreePort();
  const proxy = new ManagedChild({
    name: 'proxy',
    command: process.execPath,
    args: [PROXY, '--ca-cert', files.caCert, '--ca-key', files.caKey, '--clusters', files.clusters, '--host', '127.0.0.1', '--port', String(proxyPort), ...(options.proxyArgs ?? [])],
    cwd: PACKAGE_ROOT,
  });
  cleanups.push(() => proxy.stop(3000));
  await proxy.waitFor(/Listening on 127\.0\.0\.1:/, START_TIMEOUT_MS);

  const agents: ManagedChild[] = [];
  const startAgent = async (target: WorldCluster, extraArgs: readonly string[] = []) => {
    const from = proxy.output.length;
    const agent = new ManagedChild({
      name: `agent ${target.name}`,
      command: process.execPath,
      args: [
        AGENT,
        '--name', target.name,
        '--token', target.token,
        '--proxy-server', `http://127.0.0.1:${proxyPort}`,
        '--kubeconfig', files.member,
        '--kubesphere-service', `127.0.0.1:${ks.port}`,
        '--max-retry-interval', '2s',
        ...extraArgs,
      ],
      cwd: PACKAGE_ROOT,
    });
    agents.push(agent);
    cleanups.push(() => agent.stop(3000));
    await proxy.waitFor(new RegExp(`"cluster":"${target.name}"[^\\n]*"msg":"Agent connected"`), START_TIMEOUT_MS, from);
    return agent;
  };
  const goodAgent = options.goodAgent === false ? undefined : await startAgent(good, options.agentArgs);

  const probe = async (timeoutMs = 5_000): Promise<ProbeResult> => {
    const kubeMs = await timed(() => getOk(true, good.kubePort, '/version', client, ca, timeoutMs));
    const ksMs = await timed(() => getOk(false, good.ksPort, '/probe', client, ca, timeoutMs));
    return { kubeMs, ksMs };
  };
  if (goodAgent) await retryProbe(probe);

  return {
    dir,
    ca,
    client,
    proxy,
    proxyPort,
    good,
    evil,
    spare,
    member,
    ksPort: ks.port,
    memberKubeconfig: files.member,
    goodAgent,
    probe,
    startAgent,
    proxyLog: (from = 0) => proxy.output.slice(from),
    close,
  };
}

/** The listeners open just after "Agent connected": try the probe a few times (bounded). */
async function retryProbe(probe: () => Promise<ProbeResult>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await probe();
      return;
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** GET that must answer 200 within `timeoutMs` (a fresh connection each time). */
export function getOk(secure: boolean, port: number, path: string, client: IssuedCert, ca: CaPem, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        timeout: timeoutMs,
        ...(secure ? { ca: ca.certPem, cert: client.certPem, key: client.keyPem } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve(body);
          else reject(new Error(`GET ${secure ? 'https' : 'http'}://127.0.0.1:${port}${path}: HTTP ${res.statusCode} ${body.slice(0, 200)}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET 127.0.0.1:${port}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function memberKubeconfig(member: MemberApiserver): string {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: member, cluster: {server: "https://127.0.0.1:${member.port}", certificate-authority-data: ${b64(member.ca.certPem)}}}]`,
    `users: [{name: agent, user: {token: ${MEMBER_TOKEN}}}]`,
    'contexts: [{name: member, context: {cluster: member, user: agent}}]',
    'current-context: member',
    '',
  ].join('\n');
}
