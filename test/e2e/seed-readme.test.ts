/**
 * The seed README, replayed end to end with the real kubectl against two devclusters
 * (`host` and `member`), the real bin/proxy and bin/agent executables, on 127.0.0.1 only:
 * CRD, proxy, Cluster, token, agent, AgentAvailable, config_alpha reaching the MEMBER —
 * then agent stop/start, a second Cluster, a forced watch expiry, a Conflict during a
 * status write (across a proxy restart that must keep token and ports), and deletion.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ManagedChild } from '../../dev/demo/child.js';
import { Kubectl } from '../../dev/demo/kubectl.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { pickFreePort } from '../../dev/demo/ports.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import type { ClusterObject } from '../../src/kube/cluster-types.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { startKubeRelay, type KubeRelay } from '../helpers/kube-relay.js';
import { seedClusterYaml } from '../../dev/demo/seed-cluster.js';
import { CLUSTERS_PATH } from '../../src/kube/cluster-types.js';


const WAIT = '--timeout=20s';

describe('the seed README with the real kubectl, bin/proxy and bin/agent', { timeout: 90_000 }, () => {
  let dir: string;
  let host: DevCluster;
  let member: DevCluster;
  let hostClient: KubeClient;
  let kubectl: Kubectl;
  let files: { host: string; member: string; caCert: string; caKey: string; configAlpha: string };
  let proxyPort: number;
  let proxy: ManagedChild | undefined;
  let relay: KubeRelay | undefined;
  const agents: ManagedChild[] = [];
  const stopped: ManagedChild[] = [];
  let token = '';
  let alphaPorts: { kube: number; ks: number };

  const get = async (name: string): Promise<ClusterObject> =>
    JSON.parse(await kubectl.ok(['get', 'cluster', name, '-o', 'json'])) as ClusterObject;
  const condition = (c: ClusterObject, type: string) => c.status?.conditions?.find((x) => x.type === type)?.status;
  /** `kubectl wait --for=… cluster/NAME`; on failure the error carries the proxy's last lines. */
  const wait = (name: string, forWhat: string) =>
    kubectl.ok(['wait', `--for=${forWhat}`, `cluster/${name}`, WAIT], { timeoutMs: 25_000 }).catch((error: Error) => {
      throw new Error(`${error.message}\nproxy:\n${proxy?.tail(30) ?? '(not started)'}\nagent:\n${agents.at(-1)?.tail(10) ?? '(not started)'}`);
    });
  const serviceExists = async (name: string) =>
    (await kubectl.run(['-n', 'kubesphere-system', 'get', 'service', name, '-o', 'name'])).code === 0;

  function startProxy(kubeconfig: string): Promise<ManagedChild> {
    const child = new ManagedChild({
      name: 'proxy',
      command: process.execPath,
      args: [
        join(PACKAGE_ROOT, 'bin', 'proxy'),
        '--ca-cert', files.caCert,
        '--ca-key', files.caKey,
        '--host', '127.0.0.1',
        '--port', String(proxyPort),
        '--publish-service-address', '127.0.0.1',
        '--kubeconfig', kubeconfig,
      ],
      cwd: PACKAGE_ROOT,
    });
    stopped.push(child);
    proxy = child;
    return child.waitFor(/Listening on 127\.0\.0\.1:/, 20_000).then(() => child);
  }

  function startAgent(): ManagedChild {
    const child = new ManagedChild({
      name: 'agent',
      command: process.execPath,
      args: [
        join(PACKAGE_ROOT, 'bin', 'agent'),
        '--kubeconfig', files.member,
        '--token', token,
        '--name', 'alpha',
        '--proxy-server', `http://127.0.0.1:${proxyPort}`,
        '--kubesphere-service', '127.0.0.1:1',
        '--max-retry-interval', '2s',
      ],
      cwd: PACKAGE_ROOT,
    });
    agents.push(child);
    stopped.push(child);
    return child;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-seed-e2e-'));
    [host, member] = await Promise.all([startDevCluster({ name: 'host' }), startDevCluster({ name: 'member' })]);
    files = {
      host: await host.writeKubeconfig(join(dir, 'host.kubeconfig')),
      member: await member.writeKubeconfig(join(dir, 'member.kubeconfig')),
      caCert: join(dir, 'ca.crt'),
      caKey: join(dir, 'ca.key'),
      configAlpha: join(dir, 'config_alpha'),
    };
    hostClient = KubeClient.fromString(host.adminKubeconfig);
    kubectl = new Kubectl({
      kubeconfig: files.host,
      cacheDir: join(dir, 'kubectl-cache'),
      env: { ...process.env, KUBECONFIG: '', HOME: dir },
      cwd: PACKAGE_ROOT,
      timeoutMs: 30_000,
    });
    const ca = await createSelfSignedCa();
    await writeFile(files.caCert, ca.certPem);
    await writeFile(files.caKey, ca.keyPem, { mode: 0o600 });
    // Make the member's objects differ from the host's (its nodes are member-* already).
    await kubectl.ok(['create', 'namespace', 'member-only'], { kubeconfig: files.member });
    proxyPort = await pickFreePort();
  });

  after(async () => {
    await Promise.all(stopped.map((c) => c.stop(3000)));
    await relay?.close();
    await Promise.all([host?.stop(), member?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs the CRD with `kubectl kustomize config/crd | kubectl create -f -`', async () => {
    const out = await kubectl.kustomizeCreate('config/crd');
    assert.match(out, /customresourcedefinition\.apiextensions\.k8s\.io\/clusters\.cluster\.kubesphere\.io created/);
  });

  it('runs ./bin/proxy against the host', async () => {
    await startProxy(files.host);
  });

  it('`kubectl -n kubesphere-system create -f agent.yaml`: the proxy generates token, ports, Service and endpoints', async () => {
    await writeFile(join(dir, 'agent.yaml'), seedClusterYaml('alpha'));
    const out = await kubectl.ok(['-n', 'kubesphere-system', 'create', '-f', join(dir, 'agent.yaml')]);
    assert.match(out, /cluster\.cluster\.kubesphere\.io\/alpha created/);
    await wait('alpha', 'condition=Initialized');
    token = (await kubectl.ok(['get', 'cluster', 'alpha', '-o', 'jsonpath={.spec.connection.token}'])).trim();
    assert.match(token, /^[0-9a-f]{64}$/);
    const alpha = await get('alpha');
    const conn = alpha.spec?.connection ?? {};
    assert.ok(conn.kubernetesAPIServerPort && conn.kubernetesAPIServerPort >= 6000 && conn.kubernetesAPIServerPort <= 7000);
    assert.equal(conn.kubesphereAPIServerPort, conn.kubernetesAPIServerPort + 10_000);
    alphaPorts = { kube: conn.kubernetesAPIServerPort, ks: conn.kubesphereAPIServerPort };
    assert.equal(conn.kubernetesAPIEndpoint, `https://127.0.0.1:${alphaPorts.kube}`);
    assert.equal(conn.kubesphereAPIEndpoint, `http://127.0.0.1:${alphaPorts.ks}`);
    assert.ok(await serviceExists('mc-alpha'), 'Service mc-alpha in kubesphere-system');
  });

  it('runs ./bin/agent with the token: AgentAvailable=True', async () => {
    const agent = startAgent();
    const out = await Promise.race([wait('alpha', 'condition=AgentAvailable'), agent.waitFor(/Giving up/, 30_000).then(() => '')]);
    assert.match(out, /condition met/, agent.tail());
    assert.equal(condition(await get('alpha'), 'AgentAvailable'), 'True');
  });

  it('`kubectl describe cluster alpha` lists the Events: agent connected, kubeconfig issued — no secret in them', async () => {
    const events = async () => (await kubectl.ok(['describe', 'cluster', 'alpha'])).split(/^Events:/m)[1] ?? '';
    let text = await events();
    for (let i = 0; i < 20 && !/AgentConnected/.test(text); i += 1) text = await events(); // Events are written just after the condition
    assert.match(text, /Normal\s+KubeconfigIssued/);
    assert.match(text, /Normal\s+AgentConnected\s+.*Agent v0\.1\.0-ts connected from 127\.0\.0\.1/);
    assert.ok(!text.includes(token), 'the token is in an Event');
  });

  it('config_alpha (the decoded kubeconfig) answers with the MEMBER\'s nodes and namespaces', async () => {
    const encoded = (await kubectl.ok(['get', 'cluster', 'alpha', '-o', 'jsonpath={.spec.connection.kubeconfig}'])).trim();
    assert.ok(encoded, 'spec.connection.kubeconfig is set');
    const yaml = Buffer.from(encoded, 'base64').toString('utf8'); // | base64 -d
    await writeFile(files.configAlpha, yaml, { mode: 0o600 });
    const config = parseYaml(yaml) as { clusters: Array<{ cluster: { server: string } }>; users: Array<{ name: string }> };
    assert.equal(config.clusters[0]?.cluster.server, `https://127.0.0.1:${alphaPorts.kube}`);

    const nodes = await kubectl.ok(['get', 'node'], { kubeconfig: files.configAlpha });
    assert.match(nodes, /^member-control-plane\s+Ready/m);
    assert.match(nodes, /^member-worker\s/m);
    assert.doesNotMatch(nodes, /host-/);
    const namespaces = await kubectl.ok(['get', 'ns'], { kubeconfig: files.configAlpha });
    assert.match(namespaces, /^member-only\s+Active/m);
    // …while the host itself has neither.
    assert.match(await kubectl.ok(['get', 'node']), /^host-control-plane\s/m);
    assert.doesNotMatch(await kubectl.ok(['get', 'ns']), /member-only/);
  });

  it('stopping the agent turns AgentAvailable False; starting it again turns it True', async () => {
    const exit = await agents.at(-1)!.stop();
    assert.equal(exit.code, 0);
    await wait('alpha', 'condition=AgentAvailable=False');
    const down = await get('alpha');
    assert.equal(down.status?.conditions?.find((c) => c.type === 'AgentAvailable')?.message, 'Agent has not connected to proxy.');
    startAgent();
    await wait('alpha', 'condition=AgentAvailable');
    assert.match(await kubectl.ok(['get', 'node'], { kubeconfig: files.configAlpha }), /^member-control-plane\s/m);
  });

  it('a second Cluster gets different ports and its own Service', async () => {
    await writeFile(join(dir, 'beta.yaml'), seedClusterYaml('beta'));
    await kubectl.ok(['-n', 'kubesphere-system', 'create', '-f', join(dir, 'beta.yaml')]);
    await wait('beta', 'condition=Initialized');
    const beta = (await get('beta')).spec?.connection ?? {};
    assert.ok(beta.kubernetesAPIServerPort && beta.kubesphereAPIServerPort);
    const taken = new Set([alphaPorts.kube, alphaPorts.ks]);
    assert.ok(!taken.has(beta.kubernetesAPIServerPort) && !taken.has(beta.kubesphereAPIServerPort), `beta ${beta.kubernetesAPIServerPort}/${beta.kubesphereAPIServerPort} vs alpha ${alphaPorts.kube}/${alphaPorts.ks}`);
    assert.notEqual(beta.token, token);
    assert.ok(await serviceExists('mc-beta'), 'Service mc-beta in kubesphere-system');
  });

  it('survives a forced watch expiry (410): later changes are still reconciled', async () => {
    const from = proxy!.output.length;
    host.compactHistory(); // resuming from any earlier resourceVersion now gets 410 too
    host.expireWatches();
    await proxy!.waitFor(/Watch expired \(410\); listing again/, 10_000, from);
    // An update after the relist: beta leaves federation → its Service goes away.
    await kubectl.ok(['patch', 'cluster', 'beta', '--type', 'merge', '-p', '{"spec":{"joinFederation":false}}']);
    await kubectl.ok(['-n', 'kubesphere-system', 'wait', '--for=delete', 'service/mc-beta', WAIT], { timeoutMs: 25_000 });
    // A creation after the relist is initialized as before.
    await writeFile(join(dir, 'gamma.yaml'), seedClusterYaml('gamma'));
    await kubectl.ok(['create', '-f', join(dir, 'gamma.yaml')]);
    await wait('gamma', 'condition=Initialized');
    assert.ok(await serviceExists('mc-gamma'));
  });

  it('a Conflict while writing AgentAvailable is retried (proxy restarted behind a relay; token and ports kept)', async () => {
    relay = await startKubeRelay(host);
    const relayKubeconfig = join(dir, 'relay.kubeconfig');
    await writeFile(relayKubeconfig, relay.kubeconfig);
    // Just before the new proxy's write of AgentAvailable=True reaches the host, someone
    // else updates the same Cluster: the write carries a stale resourceVersion → 409.
    let injected = false;
    relay.beforeForward = async (method, path, body) => {
      if (injected || method !== 'PUT' || !path.startsWith(`${CLUSTERS_PATH}/alpha`)) return;
      const sent = JSON.parse(body.toString('utf8')) as ClusterObject;
      if (condition(sent, 'AgentAvailable') !== 'True') return;
      injected = true;
      await hostClient.json({
        method: 'PATCH',
        path: `${CLUSTERS_PATH}/alpha`,
        body: { metadata: { labels: { 'e2e.tower.dev/concurrent': 'yes' } } },
      });
    };

    const old = proxy!;
    assert.equal((await old.stop()).code, 0);
    const restarted = await startProxy(relayKubeconfig);
    // The agent (still running) reconnects on its own.
    await wait('alpha', 'condition=AgentAvailable');
    assert.ok(injected, 'the concurrent update was made before the AgentAvailable write');
    const puts = relay.requests.filter((r) => r.method === 'PUT' && r.path.startsWith(`${CLUSTERS_PATH}/alpha`));
    const conflict = puts.findIndex((r) => r.status === 409);
    assert.ok(conflict >= 0, `a PUT answered 409: ${JSON.stringify(puts)}`);
    assert.ok(puts.slice(conflict + 1).some((r) => r.status === 200), 'and a later PUT succeeded');
    assert.doesNotMatch(restarted.output, /Reconcile failed/, 'retried inside the write, not failed back to the queue');

    const alpha = await get('alpha');
    assert.equal(condition(alpha, 'AgentAvailable'), 'True');
    assert.equal((alpha.metadata as { labels?: Record<string, string> }).labels?.['e2e.tower.dev/concurrent'], 'yes', 'the concurrent change was not overwritten');
    assert.equal(alpha.spec?.connection?.token, token, 'restart kept the token');
    assert.equal(alpha.spec?.connection?.kubernetesAPIServerPort, alphaPorts.kube, 'restart kept the ports');
    assert.equal(alpha.spec?.connection?.kubesphereAPIServerPort, alphaPorts.ks);
    assert.match(await kubectl.ok(['get', 'ns'], { kubeconfig: files.configAlpha }), /^member-only\s/m);
  });

  it('deleting Cluster alpha closes its listeners and deletes Service mc-alpha', async () => {
    assert.equal(await tcpOutcome(alphaPorts.kube), 'open');
    assert.equal(await tcpOutcome(alphaPorts.ks), 'open');
    await kubectl.ok(['delete', 'cluster', 'alpha']);
    await kubectl.ok(['-n', 'kubesphere-system', 'wait', '--for=delete', 'service/mc-alpha', WAIT], { timeoutMs: 25_000 });
    await until(async () => (await tcpOutcome(alphaPorts.kube)) === 'refused', `port ${alphaPorts.kube} refusing connections`);
    assert.equal(await tcpOutcome(alphaPorts.ks), 'refused');
    assert.equal(await serviceExists('mc-alpha'), false);
    assert.equal(await serviceExists('mc-gamma'), true, 'other clusters keep theirs');
  });
});

function tcpOutcome(port: number): Promise<'open' | 'refused' | 'other'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(2000, () => (socket.destroy(), resolve('other')));
    socket.once('connect', () => (socket.destroy(), resolve('open')));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'other'));
  });
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
