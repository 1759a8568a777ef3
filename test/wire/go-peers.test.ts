/**
 * Wire compatibility with the real Go implementations the Go tower is built on
 * (golang.org/x/crypto/ssh, gorilla/websocket), through the small Go peers of
 * test/go-peer/ written from docs/protocol.md:
 *  a) a Go agent against our proxy,
 *  b) our agent against a Go proxy,
 *  c) the identification lines our proxy and agent put on the SSH stream, byte for byte.
 * Skipped, saying why, when no Go toolchain with the two libraries is installed.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { startAgent, type AgentHandle } from '../../src/actors/agent/start-agent.js';
import type { AgentOptions } from '../../src/actors/agent/agent-options.js';
import { startProxy, type ProxyHandle } from '../../src/actors/proxy/start-proxy.js';
import { silentLogger } from '../../src/log.js';
import { ADMIN_CLIENT, createSelfSignedCa, importCa, issueClientCert, issueServingCert, type IssuedCert } from '../../src/pki/index.js';
import type { CaPem } from '../../src/pki/ca-pem.js';
import { BUILD_VERSION, IDENT_CLIENT, IDENT_SERVER, SUBPROTOCOL } from '../../src/protocol/constants.js';
import { openClusterFile } from '../../src/cluster-sources/cluster-file.js';
import type { ClusterSource } from '../../src/cluster-sources/cluster-source.js';
import { clusterObject, yamlStream } from '../cluster-sources/fixtures.js';
import { describeWithTool } from '../helpers/external-tool.js';
import { freePort } from '../helpers/free-port.js';
import {
  buildGoPeers,
  detectGo,
  PeerProcess,
  waitForSnapshot,
  withTimeout,
  WAIT_MS,
  type GoPeers,
} from './go-peer-harness.js';

const go = detectGo();

/** Credentials the member kube-apiserver wants, and what the proxy must present. */
const MEMBER_BEARER = 'member-sa-token-0123456789';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

interface RequestOptions {
  readonly port: number;
  readonly path: string;
  readonly method?: 'GET' | 'POST';
  readonly body?: Buffer;
  readonly headers?: Record<string, string>;
  /** HTTPS with these TLS options; plain HTTP when absent. */
  readonly tls?: { ca: string; cert?: string; key?: string };
}

/** One request to 127.0.0.1, on a fresh connection, bounded in time. */
function request(options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const common = {
      host: '127.0.0.1',
      port: options.port,
      path: options.path,
      method: options.method ?? 'GET',
      agent: false as const,
      headers: {
        connection: 'close',
        ...(options.body ? { 'content-length': String(options.body.length) } : {}),
        ...options.headers,
      },
      timeout: WAIT_MS,
    };
    const req = options.tls ? httpsRequest({ ...common, ...options.tls }) : httpRequest(common);
    req.on('timeout', () => req.destroy(new Error(`${common.method} 127.0.0.1:${options.port}${options.path}: idle for ${WAIT_MS} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.end(options.body);
  });
}

/** Bytes the member ks-apiserver serves at /blob, and how much the bulk tests move. */
const BLOB = randomBytes(4 * 1024 * 1024);

/**
 * Four parallel downloads and an upload of 4 MiB each through a tunnel: SSH windows are
 * used up and refilled many times, and WebSocket messages carry arbitrary slices.
 */
async function bulkThrough(port: number): Promise<void> {
  const downloads = await Promise.all(Array.from({ length: 4 }, (_, i) => request({ port, path: `/blob?n=${i}` })));
  for (const reply of downloads) {
    assert.equal(reply.status, 200);
    assert.equal(reply.body.length, BLOB.length);
    assert.equal(sha256(reply.body), sha256(BLOB));
  }
  const upload = randomBytes(4 * 1024 * 1024);
  const reply = await request({ port, path: '/upload', method: 'POST', body: upload });
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(JSON.parse(reply.text), { length: upload.length, sha256: sha256(upload) });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('no address'));
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Bytes up to and including the first LF of a stream of WebSocket messages. */
function firstLine(messages: Buffer[]): Buffer | undefined {
  const all = Buffer.concat(messages);
  const end = all.indexOf(0x0a);
  return end < 0 ? undefined : all.subarray(0, end + 1);
}

describeWithTool('wire compatibility with Go x/crypto/ssh and gorilla/websocket (test/go-peer)', go.ok ? undefined : go.reason, () => {
  let peers: GoPeers;
  let dir: string;
  let memberCa: CaPem;
  let memberCaFile: string;
  let memberKube: Server;
  let memberKubePort: number;
  let memberKs: Server;
  let memberKsPort: number;
  /** Requests the member ks-apiserver holds at /hold. */
  const held = new EventEmitter();

  before(async () => {
    const built = buildGoPeers(go.version!);
    dir = await mkdtemp(join(tmpdir(), 'tower-go-wire-'));
    memberCa = await createSelfSignedCa({ commonName: 'member-cluster-ca' });
    memberCaFile = join(dir, 'member-ca.crt');
    await writeFile(memberCaFile, memberCa.certPem);
    const serving = await issueServingCert(await importCa(memberCa), { hosts: ['127.0.0.1'] });

    // The member kube-apiserver: HTTPS, wants the agent's bearer token.
    memberKube = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      const authorized = req.headers.authorization === `Bearer ${MEMBER_BEARER}`;
      res.writeHead(authorized ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ server: 'member-kube-apiserver', authorized, path: req.url }));
    });
    // The member ks-apiserver: plain HTTP.
    memberKs = createHttpServer((req, res) => {
      if (req.url === '/hold') {
        // Answered when the test says so (the answer function is the event's argument).
        return void held.emit('request', (text: string) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text));
      }
      if (req.url?.startsWith('/blob')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BLOB.length) });
        return void res.end(BLOB);
      }
      if (req.method === 'POST' && req.url === '/upload') {
        const hash = createHash('sha256');
        let length = 0;
        req.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          length += chunk.length;
        });
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ length, sha256: hash.digest('hex') }));
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ server: 'member-ks-apiserver', path: req.url }));
    });
    [memberKubePort, memberKsPort] = await Promise.all([listen(memberKube), listen(memberKs)]);
    peers = await built;
  });

  after(async () => {
    await Promise.all([memberKube && close(memberKube), memberKs && close(memberKs)]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A kubeconfig for the member kube-apiserver with the agent's bearer token. */
  const writeKubeconfig = async (name: string) => {
    const path = join(dir, name);
    await writeFile(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'member', cluster: { server: `https://127.0.0.1:${memberKubePort}`, 'certificate-authority-data': Buffer.from(memberCa.certPem).toString('base64') } }],
        users: [{ name: 'agent', user: { token: MEMBER_BEARER } }],
        contexts: [{ name: 'member', context: { cluster: 'member', user: 'agent' } }],
        'current-context': 'member',
      }),
    );
    return path;
  };

  describe('a) a Go agent against our proxy', () => {
    const NAME = 'member-a';
    const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
    let proxyCa: CaPem;
    let client: IssuedCert;
    let clusters: ClusterSource;
    let proxy: ProxyHandle;
    let kubePort: number;
    let ksPort: number;
    const started: PeerProcess[] = [];

    before(async () => {
      proxyCa = await createSelfSignedCa({ commonName: 'tower-proxy-ca' });
      client = await issueClientCert(await importCa(proxyCa), ADMIN_CLIENT);
      kubePort = await freePort();
      ksPort = await freePort();
      const file = join(dir, 'clusters.yaml');
      await writeFile(
        file,
        yamlStream([clusterObject({ name: NAME, token: TOKEN, kubernetesAPIServerPort: kubePort, kubesphereAPIServerPort: ksPort })]),
      );
      clusters = await openClusterFile(file);
      // SSH keepalives every 300 ms, given up after 2 unanswered: see the keepalive test. An
      // agent is suspect after 450 ms of silence (a probe has 150 ms to be answered: less
      // is too tight for a Go agent on a loaded 2-core CI machine).
      proxy = await startProxy({
        host: '127.0.0.1',
        port: 0,
        ca: proxyCa,
        clusters,
        logger: silentLogger(),
        pkiMode: 'inline',
        limits: { keepaliveIntervalMs: 300, keepaliveCountMax: 2 },
      });
    });

    // Every test's Go agents stop when it ends, passed or failed: a failure must not leave
    // a session that the next test's sessionsGone() waits for.
    afterEach(() => Promise.all(started.splice(0).map((p) => p.stop())));

    after(async () => {
      await proxy?.stop();
      await clusters?.close();
    });

    const goAgent = (token: string, ...extra: string[]) => {
      const peer = new PeerProcess('go agent', peers.agent, [
        '--proxy-server', `http://127.0.0.1:${proxy.port}`,
        '--name', NAME,
        '--token', token,
        '--kubernetes-svc-host', `127.0.0.1:${memberKubePort}`,
        '--kubesphere-svc-host', `127.0.0.1:${memberKsPort}`,
        '--bearer-token', MEMBER_BEARER,
        '--ca-file', memberCaFile,
        '--keepalive', '200ms',
        ...extra,
      ]);
      started.push(peer);
      return peer;
    };

    /** Wait for every session now known to end; then none may be left. */
    const sessionsGone = async () => {
      await withTimeout(Promise.all([...proxy.sessions.values()].map((s) => s.done)), WAIT_MS, 'proxy sessions did not end');
      assert.equal(proxy.sessions.size, 0, 'a proxy session is left over');
    };

    /** A Go agent with the right token, once the cluster's listeners are open. */
    const connectedGoAgent = async (...extra: string[]) => {
      const agent = goAgent(TOKEN, ...extra);
      await agent.waitLine(/^CONNECTED$/);
      const gateway = proxy.gateways.get(NAME);
      assert.ok(gateway, 'no gateway for the connected cluster');
      await waitForSnapshot(gateway.actor, (s) => s.matches('listening') && s.context.sessions.length > 0, 'cluster listeners open with the agent', (s) => JSON.stringify(s.value));
      return agent;
    };

    test('right token: connected, kube-apiserver (HTTPS) and ks-apiserver reached through the Go agent, pings answered', async () => {
      const agent = await connectedGoAgent();

      assert.equal(proxy.sessions.size, 1);
      const [session] = [...proxy.sessions.values()];
      // The Go agent's json.Marshal config, []byte fields as base64, decoded by our codec.
      assert.equal(session!.clusterName, NAME);
      assert.equal(session!.accepted?.config.version, 'v0.0.0-go-peer');
      assert.equal(session!.accepted?.config.kubernetesSvcHost, `127.0.0.1:${memberKubePort}`);
      assert.equal(session!.accepted?.config.kubeSphereSvcHost, `127.0.0.1:${memberKsPort}`);
      assert.deepEqual(session!.accepted?.config.bearerToken, Buffer.from(MEMBER_BEARER));
      assert.deepEqual(session!.accepted?.config.caData, Buffer.from(memberCa.certPem));
      assert.equal(session!.accepted?.config.certData, undefined);

      const kube = await request({
        port: kubePort,
        path: '/api/v1/namespaces?limit=1',
        headers: { authorization: 'Bearer whatever-the-client-sent' },
        tls: { ca: proxyCa.certPem, cert: client.certPem, key: client.keyPem },
      });
      assert.equal(kube.status, 200, kube.text);
      assert.deepEqual(JSON.parse(kube.text), { server: 'member-kube-apiserver', authorized: true, path: '/api/v1/namespaces?limit=1' });
      await agent.waitLine(new RegExp(`^CHANNEL 127\\.0\\.0\\.1:${memberKubePort}$`));

      const ks = await request({ port: ksPort, path: '/kapis/version' });
      assert.equal(ks.status, 200, ks.text);
      assert.deepEqual(JSON.parse(ks.text), { server: 'member-ks-apiserver', path: '/kapis/version' });
      await agent.waitLine(new RegExp(`^CHANNEL 127\\.0\\.0\\.1:${memberKsPort}$`));

      // Our proxy answers the Go agent's `ping` with success and no payload.
      await agent.waitLine(/^PONG true 0$/);
      assert.deepEqual(agent.lines.filter((l) => /^(CHANNEL-REFUSED|DIAL-FAILED)/.test(l)), []);

      const exit = await agent.stop();
      assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `go agent exit: ${JSON.stringify(exit)}\n${agent.stderr}`);
      await sessionsGone();
    });

    test('our proxy\'s SSH keepalives (keepalive@openssh.com) count as answered by a Go agent that refuses them', async () => {
      // No pings from the agent, so only the refusals keep the session alive: with two
      // unanswered keepalives allowed, a fourth one proves the refusals were counted.
      const agent = await connectedGoAgent('--keepalive', '0');
      await agent.waitLine(/^REQUEST keepalive@openssh\.com 4$/);
      assert.ok(!agent.lines.some((l) => l.startsWith('DISCONNECTED')), agent.lines.join('\n'));
      assert.equal(proxy.sessions.size, 1);
      await agent.stop();
      await sessionsGone();
    });

    test('bulk: parallel 4 MiB downloads and a 4 MiB upload through the Go agent', async () => {
      const agent = await connectedGoAgent();
      await bulkThrough(ksPort);
      assert.deepEqual(agent.lines.filter((l) => /^(CHANNEL-REFUSED|DIAL-FAILED|DISCONNECTED)/.test(l)), []);
      await agent.stop();
      await sessionsGone();
    });

    test('a stall of our own event loop does not make a live Go agent look silent', async () => {
      await connectedGoAgent();
      const arrived = once(held, 'request') as Promise<[(text: string) => void]>;
      const reply = request({ port: ksPort, path: '/hold' });
      const [answer] = await arrived;
      // Blocked far past the 450 ms of silence an agent is given here: what the agent sent
      // meanwhile waits unread, and the silence check runs (timers) before it is read (poll).
      const stalledUntil = performance.now() + 1_000;
      while (performance.now() < stalledUntil);
      answer('answered after the stall');
      const { status, text } = await reply;
      assert.equal(status, 200, text);
      assert.equal(text, 'answered after the stall');
    });

    test('a Go agent offering only the 2019 x/crypto algorithms (the Go tower\'s first go.mod) connects and serves', async () => {
      const agent = await connectedGoAgent('--legacy-algorithms');
      const ks = await request({ port: ksPort, path: '/kapis/legacy' });
      assert.equal(ks.status, 200, ks.text);
      assert.deepEqual(JSON.parse(ks.text), { server: 'member-ks-apiserver', path: '/kapis/legacy' });
      await agent.stop();
      await sessionsGone();
    });

    test('wrong token: the Go agent prints the proxy\'s failure message and exits non-zero; no session is left', async () => {
      const agent = goAgent('not-the-token');
      const [, message] = await agent.waitLine(/^REJECTED (.*)$/);
      assert.ok(message && message.length > 0, 'empty failure message: a Go agent would believe it is connected');
      assert.match(message, /Unauthorized/);
      assert.ok(!message.includes(TOKEN), 'the failure message quotes the token');
      const exit = await agent.waitExit();
      assert.notEqual(exit.code, 0);
      assert.ok(!agent.lines.includes('CONNECTED'));
      await sessionsGone();
    });

    test('wrong token, Go agent leaves the connection open (as newer Go agents do): our proxy hangs up by itself', async () => {
      const agent = goAgent('not-the-token', '--hold-after-reject');
      await agent.waitLine(/^REJECTED .*Unauthorized/);
      await agent.waitLine(/^DISCONNECTED /);
      assert.equal((await agent.waitExit()).code, 3);
      await sessionsGone();
    });

    test('a Go agent offering another subprotocol is not upgraded', async () => {
      const agent = goAgent(TOKEN, '--subprotocol', 'kubesphere-v2');
      const exit = await agent.waitExit();
      assert.equal(exit.code, 2);
      assert.match(agent.stderr, /websocket dial .*bad handshake/);
      assert.equal(proxy.sessions.size, 0);
    });
  });

  describe('b) our agent against a Go proxy', () => {
    const NAME = 'member-b';
    const TOKEN = 'b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
    let kubeconfig: string;
    const processes: PeerProcess[] = [];
    const agents: AgentHandle[] = [];

    before(async () => {
      kubeconfig = await writeKubeconfig('member-kubeconfig.json');
    });

    afterEach(async () => {
      await Promise.all(agents.splice(0).map((a) => a.stop()));
      await Promise.all(processes.splice(0).map((p) => p.stop()));
    });

    const goProxy = async (...extra: string[]) => {
      const peer = new PeerProcess('go proxy', peers.proxy, ['--name', NAME, '--token', TOKEN, ...extra]);
      processes.push(peer);
      const [, listenAt] = await peer.waitLine(/^LISTENING (\S+)$/);
      const [, ksAt] = await peer.waitLine(/^FORWARD kubesphere 127\.0\.0\.1:(\d+)$/);
      const [, kubeAt] = await peer.waitLine(/^FORWARD kubernetes 127\.0\.0\.1:(\d+)$/);
      return { peer, url: `ws://${listenAt}`, ksPort: Number(ksAt), kubePort: Number(kubeAt) };
    };

    const ourAgent = async (proxyUrl: string, token: string) => {
      const options: AgentOptions = {
        name: NAME,
        token,
        proxyUrl,
        credentials: { kind: 'kubeconfig', path: kubeconfig },
        kubesphereService: `127.0.0.1:${memberKsPort}`,
        keepaliveMs: 200,
        keepaliveCountMax: 25,
        maxRetry: 0,
        // One attempt per test: the first retry would come after the test is over.
        backoff: { minMs: 600_000, maxMs: 600_000, factor: 1.4 },
        handshakeTimeoutMs: WAIT_MS,
        dialTimeoutMs: 5_000,
        logger: silentLogger(),
      };
      const agent = await startAgent(options);
      agents.push(agent);
      return agent;
    };

    type AgentSnapshot = ReturnType<AgentHandle['actor']['getSnapshot']>;
    const describeAgent = (s: AgentSnapshot) => `state ${JSON.stringify(s.value)}, lastError ${JSON.stringify(s.context.lastError)}`;
    /** First of connected or backoff. */
    const settled = (agent: AgentHandle) =>
      waitForSnapshot(agent.actor, (s) => s.matches({ session: 'connected' }) || s.matches('backoff'), 'agent settled', describeAgent);

    test('right token: connected; Go reads our config as its own json.Marshal; ks and kube services reached through our agent; pings answered', async () => {
      const proxy = await goProxy('--echo-subprotocol');
      const agent = await ourAgent(proxy.url, TOKEN);
      const snapshot = await settled(agent);
      assert.ok(snapshot.matches({ session: 'connected' }), describeAgent(snapshot));

      await proxy.peer.waitLine(/^SSH-CLIENT-VERSION SSH-kubesphere-v1-client$/);
      const [, json] = await proxy.peer.waitLine(/^AGENT CONNECTED (.*)$/);
      assert.deepEqual(JSON.parse(json!), {
        Version: BUILD_VERSION,
        Name: NAME,
        KubernetesSvcHost: `127.0.0.1:${memberKubePort}`,
        KubeSphereSvcHost: `127.0.0.1:${memberKsPort}`,
        CADataSHA256: sha256(memberCa.certPem),
        BearerTokenSHA256: sha256(MEMBER_BEARER),
        Canonical: true,
        KnownKeysOnly: true,
      });

      const ks = await request({ port: proxy.ksPort, path: '/kapis/resources.kubesphere.io/v1alpha3/namespaces' });
      assert.equal(ks.status, 200, ks.text);
      assert.deepEqual(JSON.parse(ks.text), { server: 'member-ks-apiserver', path: '/kapis/resources.kubesphere.io/v1alpha3/namespaces' });

      // TLS end to end through the Go proxy's raw channel and our agent's dial.
      const kube = await request({
        port: proxy.kubePort,
        path: '/version',
        headers: { authorization: `Bearer ${MEMBER_BEARER}` },
        tls: { ca: memberCa.certPem },
      });
      assert.equal(kube.status, 200, kube.text);
      assert.equal(JSON.parse(kube.text).authorized, true);

      // Our agent's ping reaches the Go proxy, and its reply brings the agent back to idle.
      let sawPing = false;
      await waitForSnapshot(
        agent.actor,
        (s) => {
          if (s.matches({ session: { connected: 'awaitingPong' } })) sawPing = true;
          return sawPing && s.matches({ session: { connected: 'idle' } });
        },
        'a ping answered',
        describeAgent,
      );
      await proxy.peer.waitLine(/^PING$/);
      assert.deepEqual(proxy.peer.lines.filter((l) => /^(REQUEST|CHANNEL-FAILED) /.test(l)), [], 'unexpected requests or refused channels');
      assert.ok(agent.actor.getSnapshot().matches({ session: 'connected' }));
    });

    test('bulk: parallel 4 MiB downloads and a 4 MiB upload through the Go proxy and our agent', async () => {
      const proxy = await goProxy('--echo-subprotocol');
      const agent = await ourAgent(proxy.url, TOKEN);
      const snapshot = await settled(agent);
      assert.ok(snapshot.matches({ session: 'connected' }), describeAgent(snapshot));
      await proxy.peer.waitLine(/^AGENT CONNECTED /);
      await bulkThrough(proxy.ksPort).catch((error: Error) => {
        throw new Error(`${error.message}\n  our agent: ${describeAgent(agent.actor.getSnapshot())}\n  go proxy: ${JSON.stringify(proxy.peer.lines)} ${proxy.peer.stderr}`);
      });
      assert.ok(agent.actor.getSnapshot().matches({ session: 'connected' }), describeAgent(agent.actor.getSnapshot()));
      assert.deepEqual(proxy.peer.lines.filter((l) => /^(REQUEST|CHANNEL-FAILED|SESSION-CLOSED) /.test(l)), []);
    });

    test('wrong token: our agent records the Go proxy\'s failure text, hangs up and backs off', async () => {
      const proxy = await goProxy('--echo-subprotocol');
      const agent = await ourAgent(proxy.url, 'not-the-token');
      const snapshot = await settled(agent);
      assert.ok(snapshot.matches('backoff'), describeAgent(snapshot));
      assert.match(snapshot.context.lastError ?? '', /Unauthorized agent/);
      await proxy.peer.waitLine(/^AGENT REJECTED /);
      // The Go proxy leaves a rejected connection open: our agent must close it.
      await proxy.peer.waitLine(/^REJECTED-SESSION-CLOSED$/);
    });

    test(
      'right token against a Go proxy whose 101 names no subprotocol, exactly as the Go tower\'s gorilla Upgrader answers',
      async () => {
        const proxy = await goProxy();
        const agent = await ourAgent(proxy.url, TOKEN);
        const snapshot = await settled(agent);
        assert.ok(snapshot.matches({ session: 'connected' }), describeAgent(snapshot));
        await proxy.peer.waitLine(/^AGENT CONNECTED /);
        const ks = await request({ port: proxy.ksPort, path: '/kapis/faithful' });
        assert.equal(ks.status, 200, ks.text);
        assert.deepEqual(JSON.parse(ks.text), { server: 'member-ks-apiserver', path: '/kapis/faithful' });
      },
    );
  });

  describe('c) identification lines on the wire', () => {
    test('our proxy sends exactly "SSH-kubesphere-v1-server\\r\\n" first, in binary messages', async () => {
      const proxyCa = await createSelfSignedCa({ commonName: 'tower-proxy-ca-c' });
      const file = join(dir, 'clusters-c.yaml');
      await writeFile(file, '[]\n');
      const clusters = await openClusterFile(file);
      const proxy = await startProxy({ host: '127.0.0.1', port: 0, ca: proxyCa, clusters, logger: silentLogger(), pkiMode: 'inline' });
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`, SUBPROTOCOL, { perMessageDeflate: false });
      try {
        const messages: Buffer[] = [];
        const binary: boolean[] = [];
        const line = await withTimeout(
          new Promise<Buffer>((resolve, reject) => {
            ws.on('error', reject);
            ws.on('close', () => reject(new Error('proxy closed before its identification line')));
            ws.on('message', (data: RawData, isBinary: boolean) => {
              messages.push(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
              binary.push(isBinary);
              const first = firstLine(messages);
              if (first) resolve(first);
            });
          }),
          WAIT_MS,
          'no identification line from our proxy',
        );
        assert.equal(ws.protocol, SUBPROTOCOL, 'the 101 must name the subprotocol');
        assert.deepEqual(line, Buffer.from(`${IDENT_SERVER}\r\n`, 'latin1'));
        assert.equal(line.toString('latin1'), 'SSH-kubesphere-v1-server\r\n');
        assert.ok(binary.every(Boolean), 'a text WebSocket message');
      } finally {
        ws.terminate();
        await withTimeout(Promise.all([...proxy.sessions.values()].map((s) => s.done)), WAIT_MS, 'proxy session did not end');
        await proxy.stop();
        await clusters.close();
      }
    });

    test('our agent sends exactly "SSH-kubesphere-v1-client\\r\\n" first, in binary messages', async () => {
      const kubeconfig = await writeKubeconfig('member-kubeconfig-c.json');
      const offered: string[] = [];
      const wss = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        perMessageDeflate: false,
        handleProtocols: (protocols) => {
          offered.push(...protocols);
          return protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
        },
      });
      await new Promise<void>((resolve, reject) => {
        wss.once('listening', resolve);
        wss.once('error', reject);
      });
      const address = wss.address();
      assert.ok(typeof address === 'object' && address);
      const received = new Promise<{ line: Buffer; binary: boolean[] }>((resolve) => {
        wss.once('connection', (socket) => {
          const messages: Buffer[] = [];
          const binary: boolean[] = [];
          socket.on('message', (data: RawData, isBinary: boolean) => {
            messages.push(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
            binary.push(isBinary);
            const first = firstLine(messages);
            if (first) resolve({ line: first, binary });
          });
        });
      });
      const agent = await startAgent({
        name: 'member-c',
        token: 'whatever',
        proxyUrl: `ws://127.0.0.1:${address.port}`,
        credentials: { kind: 'kubeconfig', path: kubeconfig },
        kubesphereService: `127.0.0.1:${memberKsPort}`,
        keepaliveMs: 0,
        maxRetry: 0,
        backoff: { minMs: 600_000, maxMs: 600_000, factor: 1.4 },
        handshakeTimeoutMs: WAIT_MS,
        dialTimeoutMs: 5_000,
        logger: silentLogger(),
      });
      try {
        const { line, binary } = await withTimeout(received, WAIT_MS, 'no identification line from our agent');
        assert.deepEqual(offered, [SUBPROTOCOL]);
        assert.deepEqual(line, Buffer.from(`${IDENT_CLIENT}\r\n`, 'latin1'));
        assert.equal(line.toString('latin1'), 'SSH-kubesphere-v1-client\r\n');
        assert.ok(binary.every(Boolean), 'a text WebSocket message');
      } finally {
        await agent.stop();
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    });
  });
});
