/**
 * Each mode loads only what it uses (issue 10): the real bin/proxy and bin/agent run with
 * a module trace (test/helpers/module-trace.ts) and the npm packages they imported are
 * checked — no Kubernetes client, inspector, X.509 library, worker pool or HTTP proxy
 * agent unless the mode needs one; and the trace sees a package once a mode does need it
 * (`--inspect`, HTTPS_PROXY, the first kube request's serving certificate), so an empty
 * answer is not a blind trace.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { createSelfSignedCa, importCa, issueClientCert, type CaPem } from '../../src/pki/index.js';
import { freePort } from '../helpers/free-port.js';
import { startMemberApiserver, type MemberApiserver } from '../helpers/member-apiserver.js';
import { tracedPackages } from '../helpers/module-trace.js';
import { clusterYaml, memberKubeconfigYaml } from '../helpers/tunnel-fixture.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TRACE = fileURLToPath(new URL('../helpers/module-trace.js', import.meta.url));
const PROXY = join(ROOT, 'bin', 'proxy');
const AGENT = join(ROOT, 'bin', 'agent');
const TOKEN = 'lean-imports-token-3b8e';

/** What no mode needs unless asked: each of these costs 10–60 MB of RSS. */
const HEAVY = ['@kubernetes/client-node', '@statelyai/inspect', '@peculiar/x509', 'piscina', 'https-proxy-agent', 'proxy-from-env'];

interface Traced {
  readonly child: ChildProcess;
  readonly trace: string;
  /** Resolves at the first log line whose msg starts with `text` (bounded). */
  waitMsg(text: string, timeoutMs?: number): Promise<void>;
  packages(): Promise<string[]>;
  stop(): Promise<void>;
}

const running = new Set<Traced>();
let dir: string;
let traces = 0;

function startTraced(bin: string, args: string[], env: Record<string, string> = {}): Traced {
  const trace = join(dir, `trace-${++traces}.txt`);
  const child = spawn(process.execPath, ['--import', TRACE, bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBERNETES_SERVICE_HOST: '', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '', ALL_PROXY: '', all_proxy: '', ...env, TOWER_MODULE_TRACE: trace },
  });
  const messages: string[] = [];
  const output: string[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      try {
        const msg = (JSON.parse(line) as { msg?: unknown }).msg;
        if (typeof msg === 'string') messages.push(msg);
      } catch {
        // not a log line
      }
      for (const waiter of waiters) waiter();
    });
  }
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const traced: Traced = {
    child,
    trace,
    waitMsg: (text, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!messages.some((m) => m.startsWith(text))) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for "${text}" from ${bin}:\n${output.join('\n')}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    packages: () => tracedPackages(trace),
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
      running.delete(traced);
    },
  };
  running.add(traced);
  return traced;
}

const heavyIn = (packages: string[]) => packages.filter((p) => HEAVY.includes(p));

describe('what each mode imports', { timeout: 120_000 }, () => {
  let ca: CaPem;
  let caCert: string;
  let caKey: string;
  let member: MemberApiserver;
  let memberKubeconfig: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-lean-'));
    ca = await createSelfSignedCa({ commonName: 'lean-ca' });
    caCert = join(dir, 'ca.crt');
    caKey = join(dir, 'ca.key');
    await writeFile(caCert, ca.certPem);
    await writeFile(caKey, ca.keyPem, { mode: 0o600 });
    member = await startMemberApiserver('token');
    memberKubeconfig = join(dir, 'member.kubeconfig');
    await writeFile(memberKubeconfig, memberKubeconfigYaml(member, 'token'));
  });
  after(async () => {
    await Promise.all([...running].map((p) => p.stop()));
    await member?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--clusters proxy and a kubeconfig agent: none of them until a kube client comes; then the PKI pool', async () => {
    const [port, kubePort, ksPort] = [await freePort(), await freePort(), await freePort()];
    const clusters = join(dir, 'clusters.yaml');
    await writeFile(clusters, clusterYaml('alpha', TOKEN, kubePort, ksPort));
    const proxy = startTraced(PROXY, ['--ca-cert', caCert, '--ca-key', caKey, '--host', '127.0.0.1', '--port', String(port), '--clusters', clusters]);
    await proxy.waitMsg(`Listening on 127.0.0.1:${port}`);
    const agent = startTraced(AGENT, ['--name', 'alpha', '--token', TOKEN, '--proxy-server', `http://127.0.0.1:${port}`, '--kubeconfig', memberKubeconfig, '--kubesphere-service', '127.0.0.1:9']);
    await agent.waitMsg('Connected');

    const proxyPackages = await proxy.packages();
    assert.ok(proxyPackages.includes('ssh2') && proxyPackages.includes('xstate'), `the trace works: ${proxyPackages.join(', ')}`);
    assert.deepEqual(heavyIn(proxyPackages), [], `proxy loaded: ${proxyPackages.join(', ')}`);
    const agentPackages = await agent.packages();
    assert.ok(agentPackages.includes('ssh2'), `the trace works: ${agentPackages.join(', ')}`);
    assert.deepEqual(heavyIn(agentPackages), [], `agent loaded: ${agentPackages.join(', ')}`);
    assert.ok(!agentPackages.includes('prom-client'), 'no metrics without --metrics-port');

    // The first kube client: the serving certificate is issued in the PKI pool's thread.
    const client = await issueClientCert(await importCa(ca), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: kubePort, path: '/version', agent: false, ca: ca.certPem, cert: client.certPem, key: client.keyPem, timeout: 15_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    const after = await proxy.packages();
    assert.ok(after.includes('piscina'), `the PKI pool started on demand: ${after.join(', ')}`);
    await Promise.all([proxy.stop(), agent.stop()]);
  });

  it('the inspector only with --inspect; the HTTP proxy agent only with a proxy variable', async () => {
    const port = await freePort();
    const clusters = join(dir, 'empty.yaml');
    await writeFile(clusters, '');
    const closed = await freePort();
    const proxy = startTraced(PROXY, ['--ca-cert', caCert, '--ca-key', caKey, '--host', '127.0.0.1', '--port', String(port), '--clusters', clusters, '--inspect', `ws://127.0.0.1:${closed}`]);
    await proxy.waitMsg(`Listening on 127.0.0.1:${port}`);
    assert.ok((await proxy.packages()).includes('@statelyai/inspect'));

    const agent = startTraced(AGENT, ['--name', 'alpha', '--token', TOKEN, '--proxy-server', `http://127.0.0.1:${port}`, '--kubeconfig', memberKubeconfig, '--v', '4'], {
      HTTP_PROXY: `http://127.0.0.1:${closed}`,
    });
    await agent.waitMsg('Dialing proxy');
    const packages = await agent.packages();
    assert.ok(packages.includes('https-proxy-agent') && packages.includes('proxy-from-env'), packages.join(', '));
    assert.ok(!packages.includes('@kubernetes/client-node'));
    await Promise.all([proxy.stop(), agent.stop()]);
  });

  describe('Kubernetes mode', () => {
    let dc: DevCluster;
    before(async () => {
      dc = await startDevCluster({ name: 'lean' });
    });
    after(() => dc?.stop());

    it('the proxy with a token kubeconfig imports no @kubernetes/client-node', async () => {
      const kubeconfig = join(dir, 'host.kubeconfig');
      await dc.writeKubeconfig(kubeconfig, 'token');
      const port = await freePort();
      const proxy = startTraced(PROXY, ['--ca-cert', caCert, '--ca-key', caKey, '--host', '127.0.0.1', '--port', String(port), '--kubeconfig', kubeconfig, '--publish-service-address', '127.0.0.1']);
      await proxy.waitMsg(`Listening on 127.0.0.1:${port}`);
      const packages = await proxy.packages();
      assert.ok(packages.includes('yaml'), packages.join(', '));
      assert.deepEqual(heavyIn(packages), [], packages.join(', '));
      await proxy.stop();
    });
  });
});
