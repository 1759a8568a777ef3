/**
 * The tunnel end to end with the SSH session engine in data-plane worker threads
 * (`dataPlaneThreads: 2`): the scenarios of tunnel.test.ts, a rejected agent, a worker
 * crash, and stop() leaving no thread behind.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { AgentHandle } from '../../src/actors/agent/start-agent.js';
import type { ProxySession } from '../../src/actors/proxy/proxy-session.js';
import type { DataPlanePool } from '../../src/workers/data-plane-pool.js';
import { MEMBER_TOKEN } from '../helpers/member-apiserver.js';
import { connectRawAgent, rawConfig } from '../helpers/raw-agent.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { freePort } from '../helpers/free-port.js';
import { CLUSTER, clusterYaml, startTunnelFixture, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { nextEvent, until } from '../helpers/wait.js';

const THREADS = 2;

function pool(t: TunnelFixture): DataPlanePool {
  assert.ok(t.proxy.dataPlane, 'the proxy runs no data-plane threads');
  return t.proxy.dataPlane;
}

const sessionsInWorkers = (t: TunnelFixture) => pool(t).sessionCounts.reduce((a, b) => a + b, 0);

describe('data plane in worker threads: the tunnel', { timeout: 60_000 }, () => {
  let t: TunnelFixture;
  let agent: AgentHandle;
  before(async () => {
    t = await startTunnelFixture({ proxy: { dataPlaneThreads: THREADS } });
    agent = await t.addAgent();
    await t.waitConnected(agent);
    await t.waitSessions(1);
  });
  after(() => t.close());

  it('runs the session in a worker thread', () => {
    assert.equal(pool(t).threads, THREADS);
    assert.equal(pool(t).running, THREADS);
    assert.equal(sessionsInWorkers(t), 1);
  });

  it('reaches the member kube-apiserver and the ks-apiserver', async () => {
    const kube = await t.kubeGet('/version', { headers: { authorization: 'Bearer client-should-not-pass' } });
    assert.equal(kube.status, 200);
    assert.equal(JSON.parse(kube.body).gitVersion, 'v1.32.0-member');
    assert.equal(t.member.seen.at(-1)?.authorization, `Bearer ${MEMBER_TOKEN}`);
    const ks = await t.ksGet('/kapis/resources.kubesphere.io/v1alpha3/namespaces');
    assert.equal(ks.status, 200);
    assert.equal(JSON.parse(ks.body).path, '/kapis/resources.kubesphere.io/v1alpha3/namespaces');
  });

  it('carries 8 MiB of random body intact', async () => {
    const res = await t.kubeGet(`/bytes?n=${8 * 1024 * 1024}`);
    assert.equal(res.status, 200);
    const sha256 = createHash('sha256').update(res.bytes).digest('hex');
    assert.deepEqual({ length: res.bytes.length, sha256 }, t.member.bytesSent.at(-1));
  });

  it('streams a watch event by event', async () => {
    const watch = await t.watch('/api/v1/namespaces?watch=1');
    for (const name of ['first', 'second']) {
      t.member.sendWatchEvent({ metadata: { name } });
      await watch.line(name);
    }
    assert.equal(watch.lines.length, 2);
    watch.close();
  });

  for (const protocol of ['SPDY/3.1', 'websocket']) {
    it(`passes a ${protocol} upgrade through both ways`, async () => {
      const socket = tlsConnect({ host: '127.0.0.1', port: t.kubePort, ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem, servername: 'localhost' });
      socket.on('error', () => {});
      await nextEvent(socket, 'secureConnect', 'TLS to the kube listener');
      socket.write(`GET /api/v1/namespaces/default/pods/p/exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`);
      let received = '';
      const gotHead = new Promise<void>((resolve) => {
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (received.includes('\r\n\r\n')) resolve();
        });
      });
      await gotHead;
      assert.match(received, /^HTTP\/1\.1 101 /);
      const echoed = new Promise<void>((resolve) => socket.on('data', () => received.includes('ping-through-upgrade') && resolve()));
      socket.write('ping-through-upgrade');
      await echoed;
      socket.destroy();
    });
  }

  it('a client that disconnects mid-response releases the channel on both sides', async () => {
    const session = [...t.proxy.sessions.values()][0]!;
    const req = httpsRequest({
      host: '127.0.0.1', port: t.kubePort, path: `/bytes?n=${256 * 1024 * 1024}`, agent: false,
      ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem,
    });
    req.on('error', () => {});
    req.end();
    const res = await nextEvent<IncomingMessage>(req, 'response', 'the /bytes response headers');
    assert.equal(res.statusCode, 200);
    await nextEvent(res, 'data', 'the first chunk');
    const carrying = session.openChannels;
    assert.ok(carrying >= 1, 'a channel carries the response');
    req.destroy();
    res.destroy();
    const released = () => session.openChannels < carrying && agent.openChannels() < carrying;
    await until(released, (f) => {
      const timer = setInterval(f, 20); // channel counts announce no event of their own here
      return () => clearInterval(timer);
    }, 'the proxy and the agent to release the channel');
  });

  it('rejects an agent with a wrong token, closes it, and keeps nothing of it', async () => {
    const before = new Set(t.proxy.sessions.keys());
    const raw = await connectRawAgent(t.proxy.port);
    try {
      const fresh = [...t.proxy.sessions.values()].filter((s) => !before.has(s.id));
      assert.equal(fresh.length, 1);
      const session: ProxySession = fresh[0]!;
      assert.equal(sessionsInWorkers(t), 2, 'the raw agent runs in a worker too');
      const wrong = 'wrong-token-do-not-echo-77c1';
      const reply = await raw.sendConfig(rawConfig({ name: CLUSTER, token: wrong }));
      assert.equal(reply.ok, false);
      assert.match(reply.message, /^Unauthorized agent: wrong token/);
      assert.ok(!reply.message.includes(wrong));
      await raw.closed;
      await session.done;
      assert.match(session.actor.getSnapshot().context.reason ?? '', /^Unauthorized agent: wrong token/);
      await until(() => !t.proxy.sessions.has(session.id), (f) => t.proxy.onChange(f), 'the rejected session to go');
      assert.equal(sessionsInWorkers(t), 1, 'the rejected session is still held for a worker');
      assert.equal(t.proxy.gateways.get(CLUSTER)?.sessionCount, 1);
    } finally {
      await raw.close();
    }
    assert.equal((await t.kubeGet('/version')).status, 200);
  });

  it('answers the agent\'s ping in the worker', async () => {
    const raw = await connectRawAgent(t.proxy.port);
    try {
      const ok = await new Promise<boolean | undefined>((resolve, reject) =>
        raw.client.globalRequest('ping', undefined, (error, answer) => (error ? reject(error) : resolve(answer))),
      );
      assert.equal(ok, true);
    } finally {
      await raw.close();
    }
    await until(() => sessionsInWorkers(t) === 1, (f) => t.proxy.onChange(f), 'the raw session to go');
  });
});

describe('data plane in worker threads: high availability', { timeout: 60_000 }, () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture({ proxy: { dataPlaneThreads: THREADS } });
  });
  after(() => t.close());

  it('spreads agents over the threads, fails over with a request in flight, answers 503 with the last agent gone', async () => {
    const a = await t.addAgentWithToken('token-of-a');
    const b = await t.addAgentWithToken('token-of-b');
    await Promise.all([t.waitConnected(a), t.waitConnected(b)]);
    await t.waitSessions(2);
    assert.deepEqual([...pool(t).sessionCounts], [1, 1], 'round-robin puts one agent on each thread');
    assert.deepEqual(await t.getVersions(6), { 'token-of-a': 3, 'token-of-b': 3 }, 'round-robin over both agents');
    // A watch in flight on each agent while agent a stops.
    const watches = await t.watchOnEachAgent(['token-of-a', 'token-of-b']);
    await a.stop();
    assert.deepEqual(await watches.get('token-of-a')!.closed, { complete: false }, 'the watch agent a carried is cut, not left hanging');
    t.member.sendWatchEvent({ metadata: { name: 'after-failover' } });
    await watches.get('token-of-b')!.line('after-failover');
    await t.waitSessions(1); // see tunnel.test.ts on requests racing the disconnect
    assert.deepEqual(await t.getVersions(4), { 'token-of-b': 4 }, 'the next requests all go to agent b, none fails');
    await b.stop();
    await t.waitSessions(0);
    assert.equal((await t.kubeGet('/version')).status, 503, 'no agent left: the held listener answers 503');
    await until(() => sessionsInWorkers(t) === 0, (f) => t.proxy.onChange(f), 'no sessions left in the workers');
  });
});

describe('data plane in worker threads: a worker that dies', { timeout: 60_000 }, () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture({ proxy: { dataPlaneThreads: THREADS } });
    await t.waitConnected(await t.addAgent());
    await t.waitSessions(1);
  });
  after(() => t.close());

  it('ends its sessions with a reason, is replaced, and the agent comes back', async () => {
    const session = [...t.proxy.sessions.values()][0]!;
    const oldThreads = pool(t).workers.map((w) => w.threadId);
    // Kill every thread, so whichever holds the session dies.
    await Promise.all(pool(t).workers.map((w) => w.terminate()));
    await session.done;
    assert.match(session.actor.getSnapshot().context.reason ?? '', /^data-plane worker thread \d+ exited with code 1$/);
    // The agent reconnects onto a new thread; the proxy never went down.
    await until(
      () => [...t.proxy.sessions.values()].some((s) => s !== session && s.actor.getSnapshot().matches('serving')),
      (f) => t.proxy.onChange(f),
      'the agent to be served again',
      15_000,
    );
    await t.waitSessions(1);
    assert.equal(pool(t).running, THREADS);
    assert.ok(pool(t).workers.every((w) => !oldThreads.includes(w.threadId)), 'the dead threads were replaced');
    const res = await t.kubeGet('/version');
    assert.equal(res.status, 200);
  });
});

describe('data plane in worker threads: stop()', { timeout: 60_000 }, () => {
  it('leaves no worker thread running', async () => {
    const t = await startTunnelFixture({ proxy: { dataPlaneThreads: THREADS } });
    let dataPlane: DataPlanePool | undefined;
    try {
      dataPlane = pool(t);
      await t.waitConnected(await t.addAgent());
      await t.waitSessions(1);
      assert.equal((await t.kubeGet('/version')).status, 200);
      assert.equal(dataPlane.running, THREADS);
    } finally {
      await t.close();
    }
    assert.equal(dataPlane.running, 0, 'worker threads still running after stop()');
    assert.deepEqual([...dataPlane.sessionCounts], [0, 0]);
  });
});

describe('data plane in worker threads: the --data-plane-threads flag', { timeout: 60_000 }, () => {
  const PROXY = fileURLToPath(new URL('../../../bin/proxy', import.meta.url));
  let dir: string;
  let args: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-dp-cli-'));
    const ca = await createSelfSignedCa({ commonName: 'dp-cli-ca' });
    await writeFile(join(dir, 'ca.crt'), ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'clusters.yaml'), clusterYaml('alpha', 'dp-cli-token-0123456789', await freePort(), await freePort()));
    args = ['--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'), '--clusters', join(dir, 'clusters.yaml'), '--host', '127.0.0.1'];
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const run = (extra: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(PROXY, [...args, ...extra], { timeout: 10_000 }, (error, _stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
      );
    });

  for (const value of ['65', '-1', '1.5', 'two']) {
    it(`refuses --data-plane-threads ${value} with one line (exit 2)`, async () => {
      const { code, stderr } = await run(['--port', String(await freePort()), '--data-plane-threads', value]);
      assert.equal(code, 2);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /--data-plane-threads .*: must be an integer in 0-64/);
    });
  }

  it('starts the threads, serves, and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(PROXY, [...args, '--port', String(port), '--data-plane-threads', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const started = new Promise<void>((resolve) =>
        createInterface({ input: child.stderr! }).on('line', (line) => /SSH sessions run in 2 data-plane worker thread/.test(line) && resolve()),
      );
      await Promise.race([started, exited.then((code) => assert.fail(`the proxy exited (${code}) before starting its threads`))]);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
