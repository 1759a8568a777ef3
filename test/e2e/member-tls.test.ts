/**
 * Member TLS, negotiated between our proxy and our agent (real processes): the agent does
 * the TLS to its kube-apiserver and adds the credentials itself, so the member's token is
 * nowhere in the proxy — not in the config it received, not in its memory (a heap snapshot
 * of the proxy after requests through the tunnel is searched for it). The control: with
 * `--no-member-tls` the agent sends the token as the Go agent does, and the same search
 * finds it (so the search can fail).
 */
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagedChild } from '../../dev/demo/child.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { createSelfSignedCa, importCa, issueClientCert, type CaPem, type IssuedCert } from '../../src/pki/index.js';
import { freePort } from '../helpers/free-port.js';
import { MEMBER_TOKEN, startMemberApiserver, type MemberApiserver } from '../helpers/member-apiserver.js';
import { clusterYaml, memberKubeconfigYaml } from '../helpers/tunnel-fixture.js';

const TOKEN = 'member-tls-cluster-token-42';

function livez(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/livez', agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
    req.on('error', reject);
    req.end();
  });
}

describe('member TLS: the member credentials stay in the member cluster', { timeout: 120_000 }, () => {
  let dir: string;
  let member: MemberApiserver;
  let ca: CaPem;
  let client: IssuedCert;
  const children: ManagedChild[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-member-tls-'));
    member = await startMemberApiserver('token');
    ca = await createSelfSignedCa();
    client = await issueClientCert(await importCa(ca), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
    await writeFile(join(dir, 'ca.crt'), ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem);
    await writeFile(join(dir, 'member.kubeconfig'), memberKubeconfigYaml(member, 'token'));
  });
  after(async () => {
    await Promise.all(children.map((c) => c.stop(3_000)));
    await member?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A proxy and an agent (with `agentArgs`), a few requests through; the proxy's heap snapshot as text. */
  async function tunnelAndSnapshot(name: string, agentArgs: string[]): Promise<{ snapshot: string; versionStatus: number }> {
    const workdir = await mkdtemp(join(dir, `${name}-`));
    const [port, kubePort, ksPort] = [await freePort(), await freePort(), await freePort()];
    await writeFile(join(workdir, 'clusters.yaml'), clusterYaml('alpha', TOKEN, kubePort, ksPort));
    const proxy = new ManagedChild({
      name: `proxy ${name}`,
      command: process.execPath,
      // Node writes a heap snapshot into the working directory on SIGUSR2.
      args: ['--heapsnapshot-signal=SIGUSR2', join(PACKAGE_ROOT, 'bin', 'proxy'), '--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'),
        '--clusters', join(workdir, 'clusters.yaml'), '--host', '127.0.0.1', '--port', String(port), '--v', '6'],
      cwd: workdir,
    });
    const agent = new ManagedChild({
      name: `agent ${name}`,
      command: process.execPath,
      args: [join(PACKAGE_ROOT, 'bin', 'agent'), '--name', 'alpha', '--token', TOKEN, '--proxy-server', `http://127.0.0.1:${port}`,
        '--kubeconfig', join(dir, 'member.kubeconfig'), '--kubesphere-service', '127.0.0.1:9', ...agentArgs],
    });
    children.push(proxy, agent);
    await proxy.waitFor(/"msg":"Agent connected"/, 20_000);
    let versionStatus = 0;
    for (let i = 0; i < 5; i += 1) {
      versionStatus = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: kubePort, path: '/version', agent: false, ca: ca.certPem, cert: client.certPem, key: client.keyPem },
          (res) => (res.resume(), res.on('end', () => resolve(res.statusCode ?? 0))),
        );
        req.on('error', reject);
        req.end();
      });
    }
    assert.equal(member.seen.at(-1)?.authorization, `Bearer ${MEMBER_TOKEN}`, 'the member got its own token');
    const written = new Promise<void>((resolve) => {
      const watcher = watch(workdir, (_event, file) => {
        if (String(file).endsWith('.heapsnapshot')) (watcher.close(), resolve());
      });
    });
    proxy.process.kill('SIGUSR2');
    await written;
    // Node writes the snapshot on the main thread: once the proxy answers again, it is complete.
    assert.equal(await livez(port), 200);
    const [file] = (await readdir(workdir)).filter((f) => f.endsWith('.heapsnapshot'));
    const snapshot = await readFile(join(workdir, file!), 'utf8');
    await Promise.all([proxy.stop(), agent.stop()]);
    for (const line of proxy.output.split('\n')) assert.ok(!line.includes(MEMBER_TOKEN), `the proxy logged the member token: ${line}`);
    return { snapshot, versionStatus };
  }

  it('negotiated (the default): no member token anywhere in the proxy', async () => {
    const { snapshot, versionStatus } = await tunnelAndSnapshot('member-tls', []);
    assert.equal(versionStatus, 200);
    assert.ok(snapshot.length > 1_000_000, 'a heap snapshot');
    assert.ok(!snapshot.includes(MEMBER_TOKEN), 'the member token is in the proxy\'s memory');
    assert.ok(!snapshot.includes(Buffer.from(MEMBER_TOKEN).toString('base64')), 'the member token (base64) is in the proxy\'s memory');
    assert.ok(!snapshot.includes(member.ca.certPem.split('\n')[1]!), 'the member CA is in the proxy\'s memory');
  });

  it('control, --no-member-tls (the Go agent\'s way): the proxy holds the token, and the search finds it', async () => {
    const { snapshot, versionStatus } = await tunnelAndSnapshot('go-way', ['--no-member-tls']);
    assert.equal(versionStatus, 200);
    assert.ok(snapshot.includes(MEMBER_TOKEN), 'the search did not find the token the proxy holds');
  });
});
