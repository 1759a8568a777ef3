/**
 * HTTP/2 on the kube listener (issue 15), end to end on 127.0.0.1 with a Node `http2`
 * client: ALPN h2 beside http/1.1, the agent's credentials injected, many streams on one
 * connection, a watch beside a 200 MiB download (and a stalled reader) on one connection, a
 * stream reset releasing its upstream at once, request bodies, CONNECT refused, a
 * certificate bound to another cluster refused; the deadlines and the idle timeout on
 * HTTP/2 connections; and a drain that ends an HTTP/2 watch cleanly.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { constants as h2constants } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { adminClientFor, importCa, issueClientCert } from '../../src/pki/index.js';
import { connectH2, digestOf, readAll, type H2Client } from '../helpers/h2-client.js';
import { MEMBER_TOKEN } from '../helpers/member-apiserver.js';
import { startTunnelFixture, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { nextEvent, until } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The protocol the kube listener picks when a client offers `protocols`. */
function alpnWith(t: TunnelFixture, protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: t.kubePort, ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem, servername: 'localhost', ALPNProtocols: protocols });
    socket.once('secureConnect', () => (resolve(socket.alpnProtocol ?? false), socket.destroy()));
    socket.once('error', reject);
  });
}

async function kubeConnections(t: TunnelFixture, protocol: 'h2' | 'http/1.1'): Promise<number> {
  const metric = await t.proxy.metrics.clientConnections.get();
  return metric.values.find((v) => v.labels.listener === 'kubernetes' && v.labels.protocol === protocol)?.value ?? 0;
}

describe('HTTP/2 on the kube listener', { timeout: 120_000 }, () => {
  let t: TunnelFixture;
  let h2: H2Client;
  before(async () => {
    t = await startTunnelFixture();
    await t.waitConnected(await t.addAgent());
    await t.waitSessions(1);
    h2 = await connectH2({ port: t.kubePort, ca: t.proxyCa, client: t.client });
  });
  after(async () => {
    await h2?.close();
    await t?.close();
  });

  it('negotiates h2 when offered, http/1.1 otherwise', async () => {
    assert.equal(h2.alpn, 'h2');
    assert.equal(await alpnWith(t, ['h2', 'http/1.1']), 'h2');
    assert.equal(await alpnWith(t, ['http/1.1']), 'http/1.1');
  });

  it('upgrades (exec, port-forward) still work on connections that chose http/1.1, as kubectl dials them', async () => {
    for (const protocol of ['SPDY/3.1', 'websocket']) {
      const socket = tlsConnect({ host: '127.0.0.1', port: t.kubePort, ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
      try {
        await nextEvent(socket, 'secureConnect', 'TLS to the kube listener');
        assert.equal(socket.alpnProtocol, 'http/1.1');
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        const arrived = (text: string) => until(() => received.includes(text), (onChange) => (socket.on('data', onChange), () => socket.off('data', onChange)), text);
        socket.write(`GET /api/v1/namespaces/default/pods/p/exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`);
        await arrived('\r\n\r\n');
        assert.match(received, /^HTTP\/1\.1 101 /);
        socket.write('ping-through-upgrade');
        await arrived('ping-through-upgrade');
      } finally {
        socket.destroy();
      }
    }
  });

  it('forwards a stream with the agent\'s credentials, not the client\'s', async () => {
    const res = await h2.get('/version', { authorization: 'Bearer client-should-not-pass' });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).gitVersion, 'v1.32.0-member');
    assert.equal(t.member.seen.at(-1)?.authorization, `Bearer ${MEMBER_TOKEN}`);
    assert.equal(res.headers['content-type'], 'application/json');
  });

  it('counts HTTP/2 requests and bytes in the listener\'s metrics', async () => {
    const requests = async () =>
      (await t.proxy.metrics.requests.get()).values.find((v) => v.metricName === 'tower_proxy_request_duration_seconds_count' && v.labels.listener === 'kubernetes' && v.labels.code === '2xx')?.value ?? 0;
    const bytes = async () => (await t.proxy.metrics.bytes.get()).values.find((v) => v.labels.listener === 'kubernetes' && v.labels.direction === 'from_member')?.value ?? 0;
    const before = { requests: await requests(), bytes: await bytes() };
    const res = await h2.get(`/bytes?n=${64 * 1024}`);
    assert.equal(res.status, 200);
    assert.equal(await requests(), before.requests + 1);
    assert.ok((await bytes()) - before.bytes >= 64 * 1024);
  });

  it('answers 100 concurrent requests on one connection', async () => {
    const connectionsBefore = await kubeConnections(t, 'h2');
    const seenBefore = t.member.seen.length;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h2.get(`/version?i=${i}`)));
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    for (const r of results) assert.equal(JSON.parse(r.body.toString()).gitVersion, 'v1.32.0-member');
    assert.equal(t.member.seen.length - seenBefore, 100);
    assert.equal(await kubeConnections(t, 'h2'), connectionsBefore, 'no new client connection');
    assert.equal(h2.session.destroyed, false);
  });

  it('streams a watch event by event beside a 200 MiB download on the same connection, even while the download is not read', async () => {
    const opened = nextEvent(t.member.events, 'watch-open', 'the member to see the watch');
    const watch = await h2.open('/api/v1/namespaces?watch=1');
    await opened;
    assert.equal(watch.status, 200);
    const lines: string[] = [];
    watch.stream.setEncoding('utf8');
    watch.stream.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
    const line = (name: string) =>
      until(() => lines.some((l) => l.includes(name)), (onChange) => (watch.stream.on('data', onChange), () => watch.stream.off('data', onChange)), `watch event ${name}`);

    const download = await h2.open(`/bytes?n=${200 * MiB}`);
    assert.equal(download.status, 200);
    download.stream.pause(); // a reader that stalls: its stream's window fills, the others go on
    t.member.sendWatchEvent({ metadata: { name: 'while-stalled' } });
    await line('while-stalled');
    assert.equal((await h2.get('/version')).status, 200, 'a new stream on the same connection is answered');

    const digest = digestOf(download.stream, 90_000, 'the 200 MiB download');
    download.stream.resume();
    for (let i = 0; i < 3; i++) {
      t.member.sendWatchEvent({ metadata: { name: `during-download-${i}` } });
      await line(`during-download-${i}`);
    }
    assert.deepEqual(await digest, t.member.bytesSent.at(-1));
    assert.equal((await digest).length, 200 * MiB);
    watch.stream.close();
  });

  it('a stream reset mid-response releases its upstream at once; the connection goes on', async () => {
    const download = await h2.open(`/bytes?n=${4096 * MiB}`);
    await nextEvent(download.stream, 'data', 'the first bytes of the download');
    const cut = nextEvent<number>(t.member.events, 'bytes-cut', 'the member to see the upstream request end', 2_000);
    const resetAt = performance.now();
    download.stream.close(h2constants.NGHTTP2_CANCEL);
    const sent = await cut;
    assert.ok(performance.now() - resetAt < 2_000);
    assert.ok(sent < 4096 * MiB, `the member stopped after ${sent} bytes`);
    assert.equal((await h2.get('/version')).status, 200);
  });

  // With nothing queued for the client, Node's HTTP/2 compat layer reports the reset
  // response as finished: the proxy must judge by the member's response, not by that.
  it('a reset of a quiet watch releases the member\'s watch at once', async () => {
    const opened = nextEvent(t.member.events, 'watch-open', 'the member to see the watch');
    const watch = await h2.open('/api/v1/namespaces?watch=1');
    await opened;
    assert.equal(watch.status, 200);
    const closed = nextEvent(t.member.events, 'watch-closed', 'the member to see the watch end', 2_000);
    watch.stream.close(h2constants.NGHTTP2_CANCEL);
    await closed;
    assert.equal((await h2.get('/version')).status, 200);
  });

  it('carries a request body without a length both ways (8 MiB echo)', async () => {
    const body = randomBytes(8 * MiB);
    const stream = h2.session.request({ ':method': 'POST', ':path': '/echo', 'content-type': 'application/octet-stream' });
    stream.on('error', () => {});
    const response = nextEvent<Record<string, string | string[] | undefined>>(stream, 'response', 'the echo headers');
    const echoed = readAll(stream, 60_000, 'the echo');
    stream.end(body);
    assert.equal(Number((await response)[':status']), 200);
    assert.equal(sha256(await echoed), sha256(body));
  });

  it('refuses CONNECT with a Status (upgrades come over HTTP/1.1)', async () => {
    const stream = h2.session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:443' });
    stream.on('error', () => {});
    const headers = await nextEvent<Record<string, string | string[] | undefined>>(stream, 'response', 'the answer to CONNECT');
    const body = JSON.parse((await readAll(stream, 5_000, 'CONNECT answer')).toString()) as { code: number; message: string };
    assert.equal(Number(headers[':status']), 405);
    assert.equal(body.code, 405);
    assert.match(body.message, /HTTP\/1\.1 upgrade/);
  });

  it('refuses a certificate bound to another cluster with a 403 Status, then closes the connection', async () => {
    const other = await issueClientCert(await importCa(t.proxyCa), adminClientFor('another-cluster'));
    const seen = t.member.seen.length;
    const client = await connectH2({ port: t.kubePort, ca: t.proxyCa, client: other });
    try {
      const goaway = nextEvent(client.session, 'goaway', 'GOAWAY after the refusal');
      const res = await client.get('/version');
      assert.equal(res.status, 403);
      assert.match(JSON.parse(res.body.toString()).message, /for cluster another-cluster, not alpha/);
      await goaway;
      assert.equal(t.member.seen.length, seen, 'nothing reached the member');
    } finally {
      await client.close();
    }
  });
});

describe('HTTP/2 without an agent', { timeout: 60_000 }, () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture();
    await t.waitSessions(0);
  });
  after(() => t?.close());

  it('answers 503 with a Status on the stream', async () => {
    const client = await connectH2({ port: t.kubePort, ca: t.proxyCa, client: t.client });
    try {
      const res = await client.get('/version');
      assert.equal(res.status, 503);
      assert.match(JSON.parse(res.body.toString()).message, /cluster alpha has no connected agent/);
    } finally {
      await client.close();
    }
  });
});

describe('HTTP/2 connections: deadlines and idle timeout', { timeout: 60_000 }, () => {
  const REQUEST_TIMEOUT_MS = 1_000;
  const IDLE_TIMEOUT_MS = 1_500;
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture({ proxy: { limits: { requestTimeoutMs: REQUEST_TIMEOUT_MS, clientIdleTimeoutMs: IDLE_TIMEOUT_MS } } });
    await t.waitConnected(await t.addAgent());
    await t.waitSessions(1);
  });
  after(() => t?.close());

  const connect = () => connectH2({ port: t.kubePort, ca: t.proxyCa, client: t.client });
  const closedAfter = async (client: H2Client, limitMs: number): Promise<number> => {
    const started = performance.now();
    await nextEvent(client.session, 'close', 'the proxy to close the connection', limitMs);
    return performance.now() - started;
  };

  it('a connection that opens no stream is closed after --request-timeout', async () => {
    const client = await connect();
    try {
      const ms = await closedAfter(client, REQUEST_TIMEOUT_MS + 3_000);
      assert.ok(ms >= REQUEST_TIMEOUT_MS - 300, `closed after ${ms.toFixed(0)} ms`);
    } finally {
      await client.close();
    }
  });

  it('a connection without streams is closed (GOAWAY) after --client-idle-timeout; a quiet watch keeps it open', async () => {
    const client = await connect();
    try {
      assert.equal((await client.get('/version')).status, 200);
      const goaway = nextEvent(client.session, 'goaway', 'GOAWAY of an idle connection', IDLE_TIMEOUT_MS + 3_000);
      const ms = await closedAfter(client, IDLE_TIMEOUT_MS + 3_000);
      await goaway;
      assert.ok(ms >= IDLE_TIMEOUT_MS - 300, `closed after ${ms.toFixed(0)} ms`);
    } finally {
      await client.close();
    }
    const watching = await connect();
    try {
      const opened = nextEvent(t.member.events, 'watch-open', 'the member to see the watch');
      const watch = await watching.open('/api/v1/pods?watch=1');
      await opened;
      await new Promise((resolve) => setTimeout(resolve, IDLE_TIMEOUT_MS * 2));
      assert.equal(watching.session.closed || watching.session.destroyed, false, 'the connection with a watch open is not idle');
      const event = nextEvent(watch.stream, 'data', 'an event on the quiet watch');
      t.member.sendWatchEvent({ metadata: { name: 'late' } });
      await event;
      watch.stream.close();
    } finally {
      await watching.close();
    }
  });
});

describe('HTTP/2 and a drain', { timeout: 60_000 }, () => {
  const GRACE_MS = 1_500;
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture();
    await t.waitConnected(await t.addAgent());
    await t.waitSessions(1);
  });
  after(() => t?.close());

  it('tells HTTP/2 clients GOAWAY at once and ends their watches cleanly at the deadline', async () => {
    const client = await connectH2({ port: t.kubePort, ca: t.proxyCa, client: t.client });
    try {
      const opened = nextEvent(t.member.events, 'watch-open', 'the member to see the watch');
      const watch = await client.open('/api/v1/namespaces?watch=1');
      await opened;
      let body = '';
      watch.stream.setEncoding('utf8');
      watch.stream.on('data', (chunk: string) => (body += chunk));
      const ended = new Promise<{ clean: boolean }>((resolve) => {
        watch.stream.once('end', () => resolve({ clean: true }));
        watch.stream.once('close', () => resolve({ clean: watch.stream.rstCode === h2constants.NGHTTP2_NO_ERROR && watch.stream.readableEnded }));
      });
      t.member.sendWatchEvent({ metadata: { name: 'before-drain' } });
      const goaway = nextEvent(client.session, 'goaway', 'GOAWAY when the drain starts', 5_000);
      const startedAt = performance.now();
      const stopped = t.proxy.stop(GRACE_MS);
      await goaway;
      assert.ok(performance.now() - startedAt < GRACE_MS, 'GOAWAY came at the start of the drain');
      t.member.sendWatchEvent({ metadata: { name: 'during-drain' } });
      assert.deepEqual(await ended, { clean: true }, 'the watch ends with END_STREAM, not a reset');
      const names = body.trimEnd().split('\n').map((l) => (JSON.parse(l) as { object: { metadata: { name: string } } }).object.metadata.name);
      assert.deepEqual(names, ['before-drain', 'during-drain'], 'whole events, nothing half');
      assert.ok(performance.now() - startedAt >= GRACE_MS - 200, 'the watch ran until the deadline');
      await stopped;
    } finally {
      await client.close();
    }
  });
});
