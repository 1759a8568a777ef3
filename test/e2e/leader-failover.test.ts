/**
 * Two real bin/proxy --leader-elect processes on one host devcluster, agents reaching them
 * through a relay that, as a Service with readiness, sends connections to the replica
 * whose /readyz is 200. The first leads and serves; the second stands by (/livez 200,
 * /readyz 503). kill -9 of the leader: the standby serves the same cluster ports within the
 * lease duration and a few seconds, the agent reconnects, kubectl through the tunnel works
 * again, the Lease names the new holder. SIGTERM of a leader releases the Lease at once: a
 * standby takes over in under 2 s.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ManagedChild } from '../../dev/demo/child.js';
import { seedClusterYaml } from '../../dev/demo/seed-cluster.js';
import { startReadyRelay, type ReadyRelay } from '../helpers/ready-relay.js';
import { freeAgentPort, startKubeStage, type KubeStage } from '../helpers/kube-stage.js';

/** Short lease timings (the defaults are 30 s / 15 s / 5 s): the same logic, faster. */
const LEASE = ['--leader-elect', '--leader-elect-lease-duration', '4s', '--leader-elect-renew-deadline', '3s', '--leader-elect-retry-period', '1s'];
const LEASE_MS = 4_000;

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

const identityOf = async (proxy: ManagedChild) => {
  const line = await proxy.waitFor(/"identity":"([^"]+)"[^\n]*"msg":"Acquired the lease: leading"/, 30_000);
  return line[1]!;
};

describe('two proxies with --leader-elect', { timeout: 150_000 }, () => {
  let stage: KubeStage;
  let relay: ReadyRelay;
  const ports: number[] = [];
  const proxies: ManagedChild[] = [];
  let configAlpha: string;

  const startProxy = async (name: string) => {
    const port = await freeAgentPort();
    ports.push(port);
    const proxy = stage.startProxy(port, LEASE, { name });
    proxies.push(proxy);
    await proxy.waitFor(/Listening on 127\.0\.0\.1:/, 20_000);
    return { proxy, port };
  };
  const holder = async () => {
    const lease = JSON.parse(await stage.kubectl.ok(['-n', 'kubesphere-system', 'get', 'lease', 'tower', '-o', 'json'])) as {
      spec: { holderIdentity?: string };
    };
    return lease.spec.holderIdentity;
  };
  const kubectlThroughTunnel = () => stage.kubectl.run(['--kubeconfig', configAlpha, 'get', 'namespace', 'member-only', '-o', 'name'], { timeoutMs: 10_000 });

  before(async () => {
    stage = await startKubeStage();
    await stage.kubectl.ok(['create', 'namespace', 'member-only'], { kubeconfig: stage.files.member });
    configAlpha = join(stage.dir, 'config_alpha');
  });
  after(async () => {
    await relay?.close();
    await stage?.close();
  });

  let first: { proxy: ManagedChild; port: number };
  let second: { proxy: ManagedChild; port: number };
  let agent: ManagedChild;

  it('the first leads and serves; the second stands by: /livez 200, /readyz 503', async () => {
    first = await startProxy('proxy-1');
    const firstIdentity = await identityOf(first.proxy);
    second = await startProxy('proxy-2');
    assert.equal(await get(second.port, '/livez'), 200);
    assert.equal(await get(second.port, '/readyz'), 503);
    assert.equal(await get(second.port, '/health'), 200, 'the Go tower\'s /health answers on a standby too');
    await first.proxy.waitFor(/"msg":"Leading: reconciling and serving"/, 20_000);
    assert.equal(await holder(), firstIdentity);
    relay = await startReadyRelay(ports);
    await stage.kubectl.ok(['create', '-f', '-'], { input: seedClusterYaml('alpha') });
    await stage.waitCluster('alpha', 'condition=Initialized');
    const token = (await stage.getCluster('alpha')).spec!.connection!.token!;
    agent = stage.startAgent('alpha', token, relay.port);
    await stage.waitCluster('alpha', 'condition=AgentAvailable');
    assert.equal(await get(first.port, '/readyz'), 200);
    assert.equal(await get(second.port, '/readyz'), 503, 'the standby is still not ready');
    const kubeconfig = (await stage.getCluster('alpha')).spec!.connection!.kubeconfig!;
    await writeFile(configAlpha, Buffer.from(kubeconfig, 'base64'));
    const answer = await kubectlThroughTunnel();
    assert.equal(answer.code, 0, answer.stderr);
    assert.equal(answer.stdout.trim(), 'namespace/member-only');
  });

  it('kill -9 of the leader: the standby serves the same ports within the lease and a few seconds', async (ctx) => {
    const from = second.proxy.output.length;
    const agentFrom = agent.output.length;
    const killedAt = performance.now();
    first.proxy.process.kill('SIGKILL');
    await first.proxy.exited;
    const leading = await second.proxy.waitFor(/"identity":"([^"]+)"[^\n]*"msg":"Acquired the lease: leading"/, LEASE_MS + 15_000, from);
    await second.proxy.waitFor(/"cluster":"alpha"[^\n]*"msg":"Agent connected"/, 20_000, from);
    await agent.waitFor(/"msg":"Connected"/, 5_000, agentFrom);
    let answer = await kubectlThroughTunnel();
    for (let i = 0; i < 10 && answer.code !== 0; i += 1) answer = await kubectlThroughTunnel(); // bounded: listeners may still be binding
    assert.equal(answer.code, 0, answer.stderr);
    assert.equal(answer.stdout.trim(), 'namespace/member-only');
    const failoverMs = performance.now() - killedAt;
    ctx.diagnostic(`kill -9 to kubectl through the new leader: ${failoverMs.toFixed(0)} ms (lease ${LEASE_MS} ms)`);
    assert.ok(failoverMs < LEASE_MS + 10_000, `failover took ${failoverMs.toFixed(0)} ms`);
    assert.equal(await holder(), leading[1]);
    assert.equal(await get(second.port, '/readyz'), 200);
  });

  it('SIGTERM of a leader releases the Lease at once: a standby takes over in under 2 s', async (ctx) => {
    const third = await startProxy('proxy-3');
    assert.equal(await get(third.port, '/readyz'), 503);
    const from = third.proxy.output.length;
    const stoppedAt = performance.now();
    const exit = await second.proxy.stop(15_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    await third.proxy.waitFor(/"msg":"Acquired the lease: leading"/, 10_000, from);
    const takeoverMs = performance.now() - stoppedAt;
    ctx.diagnostic(`SIGTERM to the standby leading: ${takeoverMs.toFixed(0)} ms`);
    assert.ok(takeoverMs < 2_000, `takeover took ${takeoverMs.toFixed(0)} ms`);
    await third.proxy.waitFor(/"cluster":"alpha"[^\n]*"msg":"Agent connected"/, 20_000, from);
  });
});
