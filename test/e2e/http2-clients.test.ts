/**
 * The real clients negotiate HTTP/2 with a kube listener of the real bin/proxy (issue 15):
 * kubectl (it is client-go) through the tunnel to a member devcluster — `get`, `apply`,
 * `get --watch` — with Go's HTTP/2 debug log showing the protocol it spoke, and the proxy's
 * metrics showing no HTTP/1.1 connection; and `curl --http2`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagedChild } from '../../dev/demo/child.js';
import { Kubectl } from '../../dev/demo/kubectl.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { pickFreePort } from '../../dev/demo/ports.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { adminClientFor, buildKubeconfig, createSelfSignedCa, importCa, issueClientCert } from '../../src/pki/index.js';
import { describeWithTool } from '../helpers/external-tool.js';
import { freePort } from '../helpers/free-port.js';
import { clusterYaml } from '../helpers/tunnel-fixture.js';

const TOKEN = 'h2-token-0123456789abcdef0123';
/** Go's net/http logs each HTTP/2 connection it makes with this (GODEBUG=http2debug=1). */
const GO_HTTP2 = /http2: Transport creating client conn/;

function curlMissing(): string | undefined {
  try {
    const version = execFileSync('curl', ['--version'], { encoding: 'utf8' });
    return /\bHTTP2\b/.test(version) ? undefined : 'this curl has no HTTP/2 (nghttp2)';
  } catch {
    return 'curl is not installed (apt-get install curl)';
  }
}

/** `text` matches `pattern`; on failure, quote only its last lines (kubectl -v 8 says a lot). */
function assertHas(text: string, pattern: RegExp, what: string): void {
  assert.ok(pattern.test(text), `${what}: no ${pattern} in …\n${text.split('\n').slice(-12).join('\n').slice(-3000)}`);
}

/** tower_proxy_client_connections_total for the kube listener, by protocol. */
async function kubeConnections(proxyPort: number): Promise<Record<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^tower_proxy_client_connections_total\{listener="kubernetes",protocol="([^"]+)"\} (\d+)/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

describe('real clients speak HTTP/2 to a kube listener', { timeout: 180_000 }, () => {
  let dir: string;
  let member: DevCluster;
  let proxy: ManagedChild;
  let agent: ManagedChild;
  let proxyPort: number;
  let kubePort: number;
  let kubectl: Kubectl;
  const files = { ca: '', client: '', clientKey: '' };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-h2-clients-'));
    member = await startDevCluster({ name: 'member' });
    const ca = await createSelfSignedCa({ commonName: 'tower-h2-ca' });
    const client = await issueClientCert(await importCa(ca), adminClientFor('alpha'));
    [proxyPort, kubePort] = [await pickFreePort(), await freePort()];
    Object.assign(files, { ca: join(dir, 'ca.crt'), client: join(dir, 'client.crt'), clientKey: join(dir, 'client.key') });
    await writeFile(files.ca, ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    await writeFile(files.client, client.certPem);
    await writeFile(files.clientKey, client.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'clusters.yaml'), clusterYaml('alpha', TOKEN, kubePort, await freePort()), { mode: 0o600 });
    const memberKubeconfig = await member.writeKubeconfig(join(dir, 'member.kubeconfig'));
    const kubeconfig = join(dir, 'alpha.kubeconfig');
    await writeFile(kubeconfig, buildKubeconfig({ server: `https://127.0.0.1:${kubePort}`, clusterName: 'alpha', caPem: ca.certPem, clientCertPem: client.certPem, clientKeyPem: client.keyPem }), { mode: 0o600 });
    const bin = (name: string) => join(PACKAGE_ROOT, 'bin', name);
    proxy = new ManagedChild({
      name: 'proxy',
      command: process.execPath,
      args: [bin('proxy'), '--ca-cert', files.ca, '--ca-key', join(dir, 'ca.key'), '--clusters', join(dir, 'clusters.yaml'), '--host', '127.0.0.1', '--port', String(proxyPort)],
      cwd: PACKAGE_ROOT,
    });
    await proxy.waitFor(/Listening on 127\.0\.0\.1:/, 20_000);
    agent = new ManagedChild({
      name: 'agent',
      command: process.execPath,
      args: [bin('agent'), '--name', 'alpha', '--token', TOKEN, '--proxy-server', `http://127.0.0.1:${proxyPort}`, '--kubeconfig', memberKubeconfig, '--kubesphere-service', '127.0.0.1:9'],
      cwd: PACKAGE_ROOT,
    });
    await proxy.waitFor(/"msg":"Cluster listeners open"/, 20_000);
    await proxy.waitFor(/"msg":"Agent connected"/, 20_000);
    kubectl = new Kubectl({ kubeconfig, cacheDir: join(dir, 'kubectl-cache'), env: { ...process.env, KUBECONFIG: '', HOME: dir, GODEBUG: 'http2debug=1' }, cwd: PACKAGE_ROOT });
  });
  after(async () => {
    await Promise.all([agent?.stop(3_000), proxy?.stop(3_000)]);
    await member?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('kubectl get: over HTTP/2, through the tunnel, and no HTTP/1.1 connection', async () => {
    const result = await kubectl.run(['get', 'namespaces', '-v', '8']);
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    assert.match(result.stdout, /^kubesphere-system\s+Active/m);
    assertHas(result.stderr, GO_HTTP2, 'kubectl spoke HTTP/2');
    assertHas(result.stderr, /GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\?limit=500\n/, 'kubectl -v 8 shows the request');
    assertHas(result.stderr, /Response Status: 200 OK/, 'and its answer');
    const connections = await kubeConnections(proxyPort);
    assert.ok((connections['h2'] ?? 0) >= 1, JSON.stringify(connections));
    assert.equal(connections['http/1.1'] ?? 0, 0, JSON.stringify(connections));
  });

  it('kubectl apply, then get what it made', async () => {
    const manifest = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: over-h2, namespace: default}\ndata: {protocol: h2}\n';
    const applied = await kubectl.run(['apply', '-f', '-'], { input: manifest });
    assert.equal(applied.code, 0, applied.stderr.slice(-3000));
    assert.match(applied.stdout, /configmap\/over-h2 created/);
    assertHas(applied.stderr, GO_HTTP2, 'kubectl apply spoke HTTP/2');
    assert.equal(await kubectl.ok(['get', 'configmap', 'over-h2', '-o', 'jsonpath={.data.protocol}']), 'h2');
  });

  it('kubectl get --watch streams changes over HTTP/2', async () => {
    const watch = new ManagedChild({
      name: 'kubectl watch',
      command: 'kubectl',
      args: [...kubectl.base(), 'get', 'configmaps', '--namespace', 'default', '--watch', '-o', 'name'],
      env: kubectl.options.env!,
      cwd: PACKAGE_ROOT,
    });
    try {
      await watch.waitFor(/^configmap\/over-h2$/m, 20_000);
      await kubectl.ok(['create', 'configmap', 'made-while-watching', '--namespace', 'default']);
      await watch.waitFor(/^configmap\/made-while-watching$/m, 20_000);
      assertHas(watch.output, GO_HTTP2, 'kubectl get --watch spoke HTTP/2');
      assert.equal(watch.exit, undefined, 'the watch is still running');
    } finally {
      await watch.stop(2_000);
    }
    assert.equal((await kubeConnections(proxyPort))['http/1.1'] ?? 0, 0);
  });

  describeWithTool('curl --http2', curlMissing(), () => {
    it('negotiates h2 and gets the member\'s /version', async () => {
      const curl = new ManagedChild({
        name: 'curl',
        command: 'curl',
        args: ['-sS', '-v', '--http2', '--max-time', '20', '--cacert', files.ca, '--cert', files.client, '--key', files.clientKey, `https://127.0.0.1:${kubePort}/version`],
      });
      const exit = await curl.exited;
      assert.equal(exit.code, 0, curl.tail());
      assert.match(curl.output, /ALPN: server accepted h2/);
      assert.match(curl.output, /^< HTTP\/2 200/m);
      assert.match(curl.output, /"gitVersion": ?"v1\.32\.2"/);
    });
  });
});
