/**
 * Bad input at every layer of the tunnel, end to end on 127.0.0.1: plain HTTP and wrong
 * upgrades on the agent port, bytes that are not SSH, SSH peers with no, broken, huge or
 * unauthorized configs, channels opened the wrong way round, a proxy that names targets
 * our agent must not dial, upstreams that refuse, clients and agents that vanish
 * mid-request. Each case says why it failed in one line where a reason is visible, and
 * leaves nothing behind: after every case the proxy has exactly the session of the good
 * agent connected in `before`, and that agent still serves requests.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ServerChannel } from 'ssh2';
import type { InspectionEvent } from 'xstate';
import { WebSocket } from 'ws';
import { startAgent, type AgentHandle } from '../../src/actors/agent/start-agent.js';
import type { AgentOptions } from '../../src/actors/agent/agent-options.js';
import type { ProxySession } from '../../src/actors/proxy/proxy-session.js';
import { silentLogger } from '../../src/log.js';
import { importCa, issueServingCert } from '../../src/pki/index.js';
import { CHANNEL_TYPE, SUBPROTOCOL } from '../../src/protocol/constants.js';
import '../../src/protocol/ssh2-extensions.js';
import type { ClusterSource, ClusterSourceEvent, ServedCluster } from '../../src/cluster-sources/cluster-source.js';
import { startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';
import { freePort } from '../helpers/free-port.js';
import { connectRawAgent, rawConfig, type RawAgent } from '../helpers/raw-agent.js';
import { CLUSTER, CLUSTER_TOKEN, startTunnelFixture, type HttpResult, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { MEMBER_TOKEN } from '../helpers/member-apiserver.js';
import { nextEvent, until } from '../helpers/wait.js';

/** A second cluster for agents that are meant to misbehave, so `alpha` stays untouched. */
const BETA = 'beta';
const BETA_TOKEN = 'beta-token-fedcba9876543210';
const CONFIG_TIMEOUT_MS = 300;

/** An in-memory ClusterSource: the proxy reads `snapshot()` when an agent's config arrives. */
function memoryClusters(): ClusterSource & { set(cluster: ServedCluster): void } {
  const clusters = new Map<string, ServedCluster>();
  const listeners = new Set<(event: ClusterSourceEvent) => void>();
  return {
    snapshot: () => clusters,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    close: async () => listeners.clear(),
    set: (cluster) => {
      clusters.set(cluster.name, cluster);
      for (const listener of listeners) listener({ type: 'cluster.upsert', cluster });
    },
  };
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const oneLine = (text: string | undefined, what: string): string => {
  assert.ok(text, `${what}: no reason given`);
  assert.ok(!text.trim().includes('\n'), `${what} is not one line: ${JSON.stringify(text)}`);
  return text;
};

/** GET on a fresh plain-HTTP connection. */
function plainGet(port: number, path: string): Promise<HttpResult> {
  return within(
    new Promise<HttpResult>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }),
    10_000,
    `GET ${path}`,
  );
}

/** Send a whole HTTP request on a fresh TCP connection; resolve with what came back once the server closes. */
async function rawHttp(port: number, request: string): Promise<{ status: number; head: string; body: string }> {
  const socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(request);
  await nextEvent(socket, 'close', `the proxy to answer ${JSON.stringify(request.split('\r\n')[0])} and close`);
  const text = Buffer.concat(chunks).toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = split >= 0 ? text.slice(0, split) : text;
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, head, body: split >= 0 ? text.slice(split + 4) : '' };
}

describe('bad input', { timeout: 30_000 }, () => {
  let t: TunnelFixture;
  let clusters: ReturnType<typeof memoryClusters>;
  let good: AgentHandle;
  let goodSession: ProxySession;
  let betaKubePort: number;
  let betaKsPort: number;
  const started: AgentHandle[] = [];

  const baselineIds = () => new Set([goodSession.id]);
  const newSessions = () => [...t.proxy.sessions.values()].filter((s) => s.id !== goodSession.id);
  /** The one session that appeared for the peer under test. */
  const theNewSession = (): ProxySession => {
    const fresh = newSessions();
    assert.equal(fresh.length, 1, `expected one new session, found ${fresh.map((s) => s.id).join(', ') || 'none'}`);
    return fresh[0]!;
  };
  const reasonOf = (session: ProxySession) => session.actor.getSnapshot().context.reason;
  const ended = async (session: ProxySession, what: string) => {
    await until(() => !t.proxy.sessions.has(session.id), (f) => t.proxy.onChange(f), what);
    return oneLine(reasonOf(session), `${what}: reason`);
  };

  // Every xstate event in the proxy and in the agents started here, channel actors
  // included: the change source for waits on things no other event announces.
  const inspected = new EventEmitter();
  inspected.setMaxListeners(0);
  const inspect = (event: InspectionEvent) => void inspected.emit('event', event);
  const onActorEvent = (listener: () => void) => {
    inspected.on('event', listener);
    return () => void inspected.off('event', listener);
  };

  const agentDefaults = (): AgentOptions => ({
    name: BETA,
    token: BETA_TOKEN,
    proxyUrl: `ws://127.0.0.1:${t.proxy.port}`,
    credentials: { kind: 'kubeconfig', path: t.memberKubeconfig },
    kubesphereService: `127.0.0.1:${t.ksPort}`,
    keepaliveMs: 30_000,
    maxRetry: 0,
    backoff: { minMs: 50, maxMs: 500, factor: 1.4 },
    handshakeTimeoutMs: 10_000,
    dialTimeoutMs: 5_000,
    logger: silentLogger(),
    inspect,
  });
  const startBeta = async (overrides: Partial<AgentOptions> = {}): Promise<AgentHandle> => {
    const agent = await startAgent({ ...agentDefaults(), ...overrides });
    started.push(agent);
    return agent;
  };
  const betaServing = (n: number) =>
    until(
      () => {
        const gateway = t.proxy.gateways.get(BETA);
        return (gateway?.sessionCount ?? 0) === n && Boolean(gateway?.listening);
      },
      (f) => t.proxy.onChange(f),
      `${n} serving session(s) for ${BETA}`,
    );
  const betaSession = (): ProxySession => {
    const sessions = newSessions().filter((s) => s.clusterName === BETA);
    assert.equal(sessions.length, 1);
    return sessions[0]!;
  };

  const httpsGet = (port: number, path: string) => within(t.get(true, port, path), 10_000, `GET ${path} on port ${port}`);

  before(async () => {
    clusters = memoryClusters();
    t = await startTunnelFixture({ proxy: { clusters, limits: { configTimeoutMs: CONFIG_TIMEOUT_MS }, inspect } });
    betaKubePort = await freePort();
    betaKsPort = await freePort();
    clusters.set({ name: CLUSTER, token: CLUSTER_TOKEN, kubernetesAPIServerPort: t.kubePort, kubesphereAPIServerPort: t.kubespherePort });
    clusters.set({ name: BETA, token: BETA_TOKEN, kubernetesAPIServerPort: betaKubePort, kubesphereAPIServerPort: betaKsPort });
    good = await t.addAgent();
    await t.waitConnected(good);
    await t.waitSessions(1);
    assert.equal(t.proxy.sessions.size, 1);
    goodSession = [...t.proxy.sessions.values()][0]!;
  });

  afterEach(async () => {
    // Whatever the case started is gone, and the good agent did not notice.
    await Promise.all(started.splice(0).map((a) => a.stop()));
    await until(
      () => t.proxy.sessions.size === 1 && t.proxy.sessions.get(goodSession.id) === goodSession,
      (f) => t.proxy.onChange(f),
      `only the good agent's session (${goodSession.id}) left`,
    );
    assert.deepEqual(new Set(t.proxy.sessions.keys()), baselineIds());
    assert.ok(goodSession.actor.getSnapshot().matches('serving'), 'the good session is still serving');
    assert.ok(good.actor.getSnapshot().matches({ session: 'connected' }), 'the good agent is still connected');
    assert.equal(t.proxy.gateways.get(CLUSTER)?.sessionCount, 1);
    const res = await t.kubeGet('/version');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).gitVersion, 'v1.32.0-member');
  });

  after(async () => {
    await Promise.all(started.splice(0).map((a) => a.stop()));
    await t?.close();
  });

  describe('plain HTTP on the agent port', () => {
    it('GET / is 404', async () => {
      const res = await plainGet(t.proxy.port, '/');
      assert.equal(res.status, 404);
      assert.equal(res.body, 'Not Found\n');
    });

    it('GET /health is OK', async () => {
      const res = await plainGet(t.proxy.port, '/health');
      assert.equal(res.status, 200);
      assert.equal(res.body, 'OK\n');
    });

    it('GET /version is the build version', async () => {
      const res = await plainGet(t.proxy.port, '/version');
      assert.equal(res.status, 200);
      assert.equal(res.body.trim(), 'v0.1.0-ts');
    });

    it('an Upgrade: h2c is 400 with a reason', async (ctx) => {
      const res = await rawHttp(
        t.proxy.port,
        'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
      );
      assert.equal(res.status, 400);
      assert.match(oneLine(res.body, 'h2c refusal'), /WebSocket/);
      ctx.diagnostic(res.body.trim());
    });
  });

  it('a WebSocket upgrade with a wrong subprotocol is 400 naming kubesphere-v1', async (ctx) => {
    const res = await rawHttp(
      t.proxy.port,
      [
        'GET / HTTP/1.1',
        'Host: x',
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol: kubesphere-v2',
        '',
        '',
      ].join('\r\n'),
    );
    assert.equal(res.status, 400);
    const reason = oneLine(res.body, 'subprotocol refusal');
    assert.match(reason, /kubesphere-v1/);
    assert.match(reason, /kubesphere-v2/);
    ctx.diagnostic(reason.trim());
    assert.equal(newSessions().length, 0, 'no session for a refused upgrade');
  });

  it('bytes that are not SSH over a correct WebSocket: the proxy closes the connection', async (ctx) => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.proxy.port}`, SUBPROTOCOL, { perMessageDeflate: false });
    ws.on('error', () => {});
    const closed = nextEvent(ws, 'close', 'the proxy to close the WebSocket');
    await nextEvent(ws, 'open', 'the WebSocket upgrade');
    assert.equal(ws.protocol, SUBPROTOCOL);
    const session = theNewSession();
    ws.send(Buffer.from('GET / HTTP/1.1\r\nHost: not-ssh\r\n\r\n'));
    ws.send(Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10]));
    await closed;
    const reason = await ended(session, 'the session of the garbage peer to end');
    assert.match(reason, /SSH identification/);
    ctx.diagnostic(reason);
  });

  it('an SSH peer that never sends config is closed after configTimeoutMs', async (ctx) => {
    const raw = await connectRawAgent(t.proxy.port);
    try {
      const session = theNewSession();
      await within(raw.closed, 5_000, 'the proxy to close the config-less connection');
      const reason = await ended(session, 'the config-less session to end');
      assert.match(reason, /config/);
      ctx.diagnostic(reason);
    } finally {
      await raw.close();
    }
  });

  /** A raw agent sends `payload` as its config; the proxy must say why not and hang up. */
  const refusedConfig = async (payload: Buffer, note: (text: string) => void): Promise<{ message: string; reason: string }> => {
    const raw: RawAgent = await connectRawAgent(t.proxy.port);
    try {
      const session = theNewSession();
      const reply = await raw.sendConfig(payload);
      assert.equal(reply.ok, false);
      const message = oneLine(reply.message, 'the failure message');
      note(message);
      await within(raw.closed, 5_000, 'the proxy to close the refused connection');
      const reason = await ended(session, 'the refused session to end');
      return { message, reason };
    } finally {
      await raw.close();
    }
  };

  it('a config that is not JSON: failure message, then the connection is closed', async (ctx) => {
    const { message, reason } = await refusedConfig(Buffer.from('{"Name": "alpha", this is not json'), (text) => ctx.diagnostic(text));
    assert.match(message, /json/i);
    assert.equal(reason, message);
  });

  /** A valid config for alpha, padded with an unknown field to `size` bytes. */
  const paddedConfig = (size: number): Buffer => {
    const base = rawConfig({ name: CLUSTER, token: CLUSTER_TOKEN });
    const head = Buffer.concat([base.subarray(0, -1), Buffer.from(',"Pad":"')]);
    const padded = Buffer.concat([head, Buffer.alloc(size - head.length - 2, 'x'), Buffer.from('"}')]);
    assert.equal(padded.length, size);
    return padded;
  };

  it('a config over the size limit: the message names the limit', async (ctx) => {
    // 32 KiB, as the README documents: literal here, so a change to the limit is a test failure.
    const { message, reason } = await refusedConfig(paddedConfig(32 * 1024 + 1), (text) => ctx.diagnostic(text));
    assert.match(message, /32768-byte limit/);
    assert.equal(reason, message);
  });

  it('a config too big for one SSH packet: the connection is closed with a reason', async (ctx) => {
    const raw = await connectRawAgent(t.proxy.port);
    try {
      const session = theNewSession();
      await assert.rejects(raw.sendConfig(paddedConfig(48 * 1024)), /No response/);
      await within(raw.closed, 5_000, 'the proxy to close the connection');
      const reason = await ended(session, 'the session to end');
      assert.match(reason, /packet/i);
      ctx.diagnostic(reason);
    } finally {
      await raw.close();
    }
  });

  it('an unknown cluster name: "Unauthorized agent…"', async (ctx) => {
    const { message, reason } = await refusedConfig(rawConfig({ name: 'no-such-cluster', token: CLUSTER_TOKEN }), (text) => ctx.diagnostic(text));
    assert.match(message, /^Unauthorized agent/);
    assert.match(message, /no-such-cluster/);
    assert.equal(reason, message);
  });

  it('a wrong token: "Unauthorized agent…", and the token is never quoted', async (ctx) => {
    const wrong = 'wrong-token-do-not-echo-5f3a';
    const { message, reason } = await refusedConfig(rawConfig({ name: CLUSTER, token: wrong }), (text) => ctx.diagnostic(text));
    assert.match(message, /^Unauthorized agent/);
    assert.ok(!message.includes(wrong), 'the failure message quotes the token');
    assert.ok(!reason.includes(wrong), 'the session reason quotes the token');
    assert.ok(!message.includes(CLUSTER_TOKEN), 'the failure message quotes the real token');
  });

  it('channels the agent opens (direct-tcpip, session) are refused; the session keeps serving', async () => {
    const raw = await connectRawAgent(t.proxy.port);
    try {
      const reply = await raw.sendConfig(rawConfig({ name: BETA, token: BETA_TOKEN }));
      assert.deepEqual(reply, { ok: true, message: '' });
      const session = theNewSession();
      await until(() => session.actor.getSnapshot().matches('serving'), onActorEvent, 'the raw session to serve');

      const forward = await new Promise<Error | undefined>((resolve) =>
        raw.client.forwardOut('127.0.0.1', 40000, '127.0.0.1', t.member.port, (error, channel) => {
          channel?.destroy();
          resolve(error);
        }),
      );
      assert.ok(forward instanceof Error, 'direct-tcpip was accepted');
      const exec = await new Promise<Error | undefined>((resolve) =>
        raw.client.exec('id', (error, channel) => {
          channel?.destroy();
          resolve(error);
        }),
      );
      assert.ok(exec instanceof Error, 'a session channel was accepted');

      // Still the same, serving session: a ping is answered and nothing was closed.
      const ping = await new Promise<boolean | undefined>((resolve, reject) =>
        raw.client.globalRequest('ping', undefined, (error, ok) => (error ? reject(error) : resolve(ok))),
      );
      assert.equal(ping, true);
      assert.equal(raw.isClosed(), false);
      assert.ok(session.actor.getSnapshot().matches('serving'));
      assert.equal(t.proxy.sessions.get(session.id), session);
    } finally {
      await raw.close();
    }
  });

  it('an upstream that refuses: 502 with a JSON Status naming the reason', async (ctx) => {
    const closedPort = await freePort();
    const agent = await startBeta({ kubernetesService: `127.0.0.1:${closedPort}`, kubesphereService: `127.0.0.1:${closedPort}` });
    await t.waitConnected(agent);
    await betaServing(1);
    for (const res of [await httpsGet(betaKubePort, '/version'), await plainGet(betaKsPort, '/kapis/x')]) {
      assert.equal(res.status, 502);
      assert.match(String(res.headers['content-type']), /json/);
      const status = JSON.parse(res.body) as { kind: string; code: number; message: string };
      assert.equal(status.kind, 'Status');
      assert.equal(status.code, 502);
      const message = oneLine(status.message, 'Status message');
      assert.match(message, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
      // Both from the proxy: the agent refused the channel, with the reason its dial failed.
      assert.match(message, /ECONNREFUSED/);
      ctx.diagnostic(message);
    }
  });

  it('a client that disconnects mid-response releases the upstream stream', async () => {
    const agent = await startBeta();
    await t.waitConnected(agent);
    await betaServing(1);
    const session = betaSession();
    assert.equal(session.openChannels, 0);
    const req = httpsRequest({
      host: '127.0.0.1', port: betaKubePort, path: `/bytes?n=${256 * 1024 * 1024}`, agent: false,
      ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem,
    });
    req.on('error', () => {});
    req.end();
    const res = await nextEvent<IncomingMessage>(req, 'response', 'the /bytes response headers');
    assert.equal(res.statusCode, 200);
    await nextEvent(res, 'data', 'the first chunk');
    assert.equal(session.openChannels, 1, 'one channel carries the response');
    assert.equal(agent.openChannels(), 1);
    req.destroy();
    res.destroy();
    await until(() => session.openChannels === 0, onActorEvent, 'the proxy to release the channel');
    await until(() => agent.openChannels() === 0, onActorEvent, 'the agent to release the channel and its member socket');
  });

  describe('an agent that vanishes mid-request', () => {
    let hang: TlsServer;
    const held = new Set<Socket>();
    before(async () => {
      // A member "apiserver" that completes TLS (the agent verifies it) and never says a word.
      const serving = await issueServingCert(await importCa(t.member.ca), { hosts: ['127.0.0.1'] });
      hang = createTlsServer({ cert: serving.certPem, key: serving.keyPem }, (socket) => {
        held.add(socket);
        socket.on('error', () => {});
        socket.once('close', () => held.delete(socket));
      });
      await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => hang.close(() => resolve()));
    });

    const hangPort = () => {
      const address = hang.address();
      return typeof address === 'object' && address ? address.port : 0;
    };

    /** Start `n` beta agents whose member never answers; send one request; return it once it is in flight. */
    const inFlight = async (n: number) => {
      const agents = await Promise.all(Array.from({ length: n }, () => startBeta({ kubernetesService: `127.0.0.1:${hangPort()}` })));
      await Promise.all(agents.map((a) => t.waitConnected(a)));
      await betaServing(n);
      const dialed = nextEvent(hang, 'secureConnection', 'the agent to dial the silent member');
      const pending = httpsGet(betaKubePort, '/api/v1/namespaces');
      pending.catch(() => {}); // awaited below; a rejection must not go unhandled meanwhile
      await dialed;
      // The channel is open end to end; the request waits for a member that never answers.
      await until(() => agents.some((a) => a.openChannels() === 1), onActorEvent, 'an agent to pipe the channel');
      const carrier = agents.find((a) => a.openChannels() === 1)!;
      await until(() => newSessions().some((s) => s.openChannels === 1), onActorEvent, 'the proxy to hold the open channel');
      return { agents, carrier, pending };
    };

    it('before the response started, with another agent left: 502 with a reason, not a hang', async (ctx) => {
      const { agents, carrier, pending } = await inFlight(2);
      await carrier.stop();
      await betaServing(1); // the cluster stays served by the other agent
      const res = await within(pending, 10_000, 'the answer to the request the vanished agent carried');
      assert.equal(res.status, 502);
      const status = JSON.parse(res.body) as { kind: string; message: string };
      assert.equal(status.kind, 'Status');
      ctx.diagnostic(oneLine(status.message, 'Status message'));
      const other = agents.find((a) => a !== carrier)!;
      assert.ok(other.actor.getSnapshot().matches({ session: 'connected' }), 'the other agent was disturbed');
    });

    it('before the response started, the last agent: the connection is cut, not left hanging', async (ctx) => {
      const { carrier, pending } = await inFlight(1);
      await carrier.stop();
      // The cluster's listeners close with its last agent, and with them the client's connection.
      const outcome = await within(
        pending.then((res) => `HTTP ${res.status}: ${res.body.trim()}`, (error: Error) => `cut: ${error.message}`),
        10_000,
        'the answer to the request the vanished agent carried',
      );
      assert.match(outcome, /^(cut: |HTTP 50[23]: )/);
      ctx.diagnostic(oneLine(outcome, 'outcome'));
      await betaServing(0);
    });

    it('during a watch: the response is cut, not left hanging', async () => {
      const agent = await startBeta();
      await t.waitConnected(agent);
      await betaServing(1);
      const watchOpened = nextEvent(t.member.events, 'watch-open', 'the member to see the watch');
      const req = httpsRequest({
        host: '127.0.0.1', port: betaKubePort, path: '/api/v1/namespaces?watch=1', agent: false,
        ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem,
      });
      req.on('error', () => {});
      req.end();
      const res = await nextEvent<IncomingMessage>(req, 'response', 'the watch response headers');
      assert.equal(res.statusCode, 200);
      res.on('error', () => {});
      res.resume();
      await watchOpened;
      const cut = nextEvent(res, 'close', 'the watch response to be cut');
      await agent.stop();
      await cut;
      assert.equal(res.complete, false, 'a cut watch must not look like a clean end');
      await betaServing(0);
    });
  });
});

describe('a proxy that asks our agent for what it must not do', { timeout: 30_000 }, () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture();
  });
  after(() => t.close()); // stops the agents it started too

  /** Our agent, connected to `fake`; its connection as the fake proxy sees it. */
  const connectTo = async (fake: FakeProxy) => {
    const configured = within(fake.nextAgent(), 10_000, 'our agent to send its config');
    const agent = await t.addAgent({ proxyUrl: `ws://127.0.0.1:${fake.port}` });
    const conn = await configured;
    await t.waitConnected(agent);
    return { agent, conn };
  };

  it('a target it must not dial is refused without dialing; an allowed target works', async () => {
    // The forbidden target listens on loopback, so a dial would be seen.
    let dials = 0;
    const forbidden = createNetServer((socket) => {
      dials += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => forbidden.listen(0, '127.0.0.1', resolve));
    const forbiddenAddress = forbidden.address();
    const forbiddenPort = typeof forbiddenAddress === 'object' && forbiddenAddress ? forbiddenAddress.port : 0;

    const fake = await startFakeProxy();
    let agent: AgentHandle | undefined;
    try {
      const connected = await connectTo(fake);
      agent = connected.agent;
      const conn = connected.conn;

      // Any type, any data: the fake proxy's openChannel only speaks `kubesphere`.
      const open = (type: string, target: string) =>
        within(
          new Promise<{ error?: Error; channel?: ServerChannel }>((resolve) =>
            conn.openCustomChannel(type, Buffer.from(target), (error, channel) => resolve(error ? { error } : { channel })),
          ),
          10_000,
          `the agent to answer a ${type} channel open to ${target}`,
        );
      for (const target of [`127.0.0.1:${forbiddenPort}`, '127.0.0.1:1', `localhost:${t.ksPort}`]) {
        const refused = await open(CHANNEL_TYPE, target);
        assert.ok(refused.error instanceof Error, `the agent opened a channel to ${target}`);
      }
      const wrongType = await open('tower-other', `127.0.0.1:${t.ksPort}`);
      assert.ok(wrongType.error instanceof Error, 'the agent opened a channel of another type');
      assert.equal(dials, 0, 'the agent dialed a forbidden target');

      // Its own ks-apiserver target is served.
      const allowed = await open(CHANNEL_TYPE, `127.0.0.1:${t.ksPort}`);
      assert.ok(allowed.channel, `allowed target refused: ${allowed.error?.message}`);
      const channel = allowed.channel;
      const chunks: Buffer[] = [];
      channel.on('data', (c: Buffer) => chunks.push(c));
      const done = nextEvent(channel, 'close', 'the ks-apiserver answer');
      // write, not end: an ssh2 server channel closes both ways when its writable side ends.
      channel.write('GET /through-fake HTTP/1.1\r\nHost: ks\r\nConnection: close\r\n\r\n');
      await done;
      const text = Buffer.concat(chunks).toString('utf8');
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /"path":"\/through-fake"/);
      assert.ok(agent.actor.getSnapshot().matches({ session: 'connected' }), 'the agent stayed connected');
    } finally {
      await agent?.stop();
      await fake.close();
      await new Promise<void>((resolve) => forbidden.close(() => resolve()));
    }
  });

  it('a request it must not forward (member TLS) closes the channel before the member sees it; well-formed ones get the member\'s own token', async () => {
    const fake = await startFakeProxy({ offerMemberTls: true });
    let agent: AgentHandle | undefined;
    try {
      const connected = await connectTo(fake);
      agent = connected.agent;
      const conn = connected.conn;
      assert.ok(!fake.configs.at(-1)!.toString().includes(MEMBER_TOKEN), 'member TLS was not negotiated: the config carries the token');
      const kubeTarget = `127.0.0.1:${t.member.port}`;
      const exchange = async (request: string) => {
        const channel = await within(fake.openChannel(conn, kubeTarget), 10_000, 'a channel to the kube-apiserver');
        const chunks: Buffer[] = [];
        channel.on('data', (c: Buffer) => chunks.push(c));
        const closed = nextEvent(channel, 'close', 'the channel to close');
        channel.write(request);
        await closed;
        return Buffer.concat(chunks).toString('utf8');
      };
      const seenBefore = t.member.seen.length;
      // Both lengths: the member and we could disagree on where the body ends; the smuggled
      // request after it carries the proxy's own Authorization.
      const smuggled = 'GET /api/v1/secrets HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer proxy-chosen\r\n\r\n';
      const answer = await exchange(
        `POST /api/v1/namespaces HTTP/1.1\r\nHost: m\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      );
      assert.equal(answer, '', 'the member answered a request that should never have reached it');
      assert.equal(t.member.seen.length, seenBefore, 'the member saw a request');
      assert.ok(agent.actor.getSnapshot().matches({ session: 'connected' }), 'the agent stayed connected');

      const ok = await exchange('GET /version HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer proxy-chosen\r\nConnection: close\r\n\r\n');
      assert.match(ok, /^HTTP\/1\.1 200 /);
      assert.equal(t.member.seen.at(-1)?.authorization, `Bearer ${MEMBER_TOKEN}`, 'the member got its own token, not the proxy\'s');
    } finally {
      await agent?.stop();
      await fake.close();
    }
  });
});
