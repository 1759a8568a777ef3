/**
 * SIGTERM drains the real bin/proxy: /readyz turns 503 and new client connections are
 * refused at once; a request in flight finishes (every byte, sha256 checked); at the
 * --shutdown-grace deadline a watch ends cleanly (a complete response, whole events) and a
 * download still running is cut; then the proxy exits 0.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagedChild } from '../../dev/demo/child.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { createSelfSignedCa, importCa, issueClientCert, type CaPem, type IssuedCert } from '../../src/pki/index.js';
import { freePort } from '../helpers/free-port.js';
import { startMemberApiserver, type MemberApiserver } from '../helpers/member-apiserver.js';
import { clusterYaml, memberKubeconfigYaml } from '../helpers/tunnel-fixture.js';
import { nextEvent } from '../helpers/wait.js';

const GRACE_S = 2;

describe('SIGTERM drains the proxy', { timeout: 60_000 }, () => {
  let dir: string;
  let member: MemberApiserver;
  let ca: CaPem;
  let client: IssuedCert;
  let proxy: ManagedChild;
  let agent: ManagedChild;
  let port: number;
  let kubePort: number;

  const kube = (path: string): RequestOptions => ({
    host: '127.0.0.1',
    port: kubePort,
    path,
    agent: false,
    ca: ca.certPem,
    cert: client.certPem,
    key: client.keyPem,
  });
  const readyz = () =>
    new Promise<number>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
      req.on('error', () => resolve(0));
      req.end();
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-drain-'));
    member = await startMemberApiserver();
    ca = await createSelfSignedCa();
    client = await issueClientCert(await importCa(ca), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
    [port, kubePort] = [await freePort(), await freePort()];
    const files = { ca: join(dir, 'ca.crt'), key: join(dir, 'ca.key'), clusters: join(dir, 'clusters.yaml'), member: join(dir, 'member.kubeconfig') };
    await writeFile(files.ca, ca.certPem);
    await writeFile(files.key, ca.keyPem);
    await writeFile(files.clusters, clusterYaml('alpha', 'drain-token-0123456789', kubePort, await freePort()));
    await writeFile(files.member, memberKubeconfigYaml(member, 'token'));
    const bin = (name: string) => join(PACKAGE_ROOT, 'bin', name);
    proxy = new ManagedChild({
      name: 'proxy',
      command: process.execPath,
      args: [bin('proxy'), '--ca-cert', files.ca, '--ca-key', files.key, '--clusters', files.clusters, '--host', '127.0.0.1', '--port', String(port), '--shutdown-grace', `${GRACE_S}s`],
    });
    agent = new ManagedChild({
      name: 'agent',
      command: process.execPath,
      args: [bin('agent'), '--name', 'alpha', '--token', 'drain-token-0123456789', '--proxy-server', `http://127.0.0.1:${port}`, '--kubeconfig', files.member, '--kubesphere-service', '127.0.0.1:9'],
    });
    await proxy.waitFor(/"msg":"Agent connected"/, 20_000);
  });
  after(async () => {
    await Promise.all([proxy?.stop(3_000), agent?.stop(3_000)]);
    await member?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finishes a request in flight, ends a watch cleanly at the deadline, cuts a long download, refuses new connections, exits 0', async () => {
    // A watch, with one event through.
    const watchOpen = nextEvent(member.events, 'watch-open', 'the member to see the watch');
    const watch = httpsRequest(kube('/api/v1/namespaces?watch=1'));
    const watchRes = nextEvent<import('node:http').IncomingMessage>(watch, 'response', 'the watch headers');
    watch.end();
    const watchResponse = await watchRes;
    await watchOpen;
    let watchBody = '';
    watchResponse.on('data', (c: Buffer) => (watchBody += c.toString('utf8')));
    const watchEnded = new Promise<{ complete: boolean }>((resolve) => {
      watchResponse.once('end', () => resolve({ complete: watchResponse.complete }));
      watchResponse.once('aborted', () => resolve({ complete: false }));
      watchResponse.once('error', () => resolve({ complete: false }));
    });
    member.sendWatchEvent({ metadata: { name: 'before-sigterm' } });

    // A download the grace covers: 8 MiB, read after a pause.
    const short = httpsRequest(kube(`/bytes?n=${8 * 1024 * 1024}`));
    const shortRes = await new Promise<import('node:http').IncomingMessage>((resolve) => short.once('response', resolve).end());
    shortRes.pause();
    // A download the grace does not cover: 4 GiB, read slowly.
    const long = httpsRequest(kube(`/bytes?n=${4 * 1024 * 1024 * 1024}`));
    const longRes = await new Promise<import('node:http').IncomingMessage>((resolve) => long.once('response', resolve).end());
    const longEnded = new Promise<boolean>((resolve) => {
      longRes.once('end', () => resolve(longRes.complete));
      longRes.once('aborted', () => resolve(false));
      longRes.once('error', () => resolve(false));
      longRes.on('close', () => resolve(longRes.complete));
    });
    longRes.resume();

    const exited = proxy.exited;
    const signalledAt = performance.now();
    proxy.process.kill('SIGTERM');
    await proxy.waitFor(/"msg":"Stopping: draining requests in flight"/, 5_000);
    assert.equal(await readyz(), 503, '/readyz during the drain');
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(kubePort, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED', 'a new client connection during the drain');

    // The paused download resumes and completes, every byte.
    const digest = createHash('sha256');
    let length = 0;
    shortRes.on('data', (c: Buffer) => (digest.update(c), (length += c.length)));
    shortRes.resume();
    await new Promise<void>((resolve, reject) => (shortRes.once('end', resolve), shortRes.once('error', reject)));
    assert.ok(shortRes.complete);
    assert.deepEqual({ length, sha256: digest.digest('hex') }, member.bytesSent.at(-1));

    member.sendWatchEvent({ metadata: { name: 'during-drain' } });
    assert.deepEqual(await watchEnded, { complete: true }, 'the watch ends as a complete response');
    const events = watchBody.trimEnd().split('\n').map((line) => JSON.parse(line) as { object: { metadata: { name: string } } });
    assert.deepEqual(events.map((e) => e.object.metadata.name), ['before-sigterm', 'during-drain'], 'whole events, nothing half');
    assert.equal(await longEnded, false, 'the long download is cut at the deadline');
    const exit = await exited;
    const drainedMs = performance.now() - signalledAt;
    assert.deepEqual(exit, { code: 0, signal: null }, proxy.tail());
    assert.ok(drainedMs >= GRACE_S * 1000 - 200 && drainedMs < GRACE_S * 1000 + 5_000, `exited ${drainedMs.toFixed(0)} ms after SIGTERM`);
  });
});
