/** The tunnel end to end on 127.0.0.1: agent + proxy + member apiserver + ks-apiserver. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCa, importCa, issueClientCert } from '../../src/pki/index.js';
import { MEMBER_TOKEN } from '../helpers/member-apiserver.js';
import { startTunnelFixture, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { nextEvent } from '../helpers/wait.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A GET on the kube listener that must fail: the error, and whether TLS got as far as the client's Finished. */
function refusal(t: TunnelFixture, client: { cert?: string; key?: string }): Promise<{ handshake: boolean; code?: string; message: string }> {
  return new Promise((resolve) => {
    let handshake = false;
    const req = httpsRequest(
      { host: '127.0.0.1', port: t.kubePort, path: '/version', agent: false, ca: t.proxyCa.certPem, ...client },
      (res) => resolve({ handshake, message: `unexpected HTTP ${res.statusCode}` }),
    );
    req.on('socket', (socket) => socket.once('secureConnect', () => (handshake = true)));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ handshake, ...(error.code ? { code: error.code } : {}), message: error.message }));
    req.end();
  });
}

describe('tunnel with a bearer-token agent', () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture();
    await t.waitConnected(await t.addAgent());
    await t.waitSessions(1);
  });
  after(() => t.close());

  it('reaches the member kube-apiserver with the agent\'s token, not the client\'s', async () => {
    const res = await t.kubeGet('/version', { headers: { authorization: 'Bearer client-should-not-pass' } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).gitVersion, 'v1.32.0-member');
    assert.equal(t.member.seen.at(-1)?.authorization, `Bearer ${MEMBER_TOKEN}`);
  });

  it('reaches the ks-apiserver over the plain HTTP listener, passing Authorization through', async () => {
    const res = await t.ksGet('/kapis/resources.kubesphere.io/v1alpha3/namespaces');
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body);
    assert.equal(body.ks, true);
    assert.equal(body.path, '/kapis/resources.kubesphere.io/v1alpha3/namespaces');
  });

  it('refuses a client without a certificate', async () => {
    const seen = t.member.seen.length;
    const refused = await refusal(t, {});
    assert.equal(refused.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', refused.message);
    assert.equal(t.member.seen.length, seen, 'nothing reached the member');
  });

  it('refuses a client certificate from another CA', async () => {
    const other = await createSelfSignedCa({ commonName: 'someone-else' });
    const cert = await issueClientCert(await importCa(other), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
    const seen = t.member.seen.length;
    const refused = await refusal(t, { cert: cert.certPem, key: cert.keyPem });
    // Node's TLS server checks the chain after the TLS 1.3 handshake and resets the connection.
    assert.ok(refused.handshake, 'the client saw the proxy\'s listener and verified its certificate');
    assert.deepEqual([refused.code, refused.message], ['ECONNRESET', 'socket hang up']);
    assert.equal(t.member.seen.length, seen, 'nothing reached the member');
  });

  it('streams a watch event by event', async () => {
    const watch = await t.watch('/api/v1/namespaces?watch=1');
    for (const name of ['first', 'second']) {
      t.member.sendWatchEvent({ metadata: { name } });
      await watch.line(name); // each event arrives while the response is still open
    }
    assert.equal(watch.lines.length, 2);
    watch.close();
  });

  it('carries 8 MiB of random body intact', async () => {
    const res = await t.kubeGet(`/bytes?n=${8 * 1024 * 1024}`);
    assert.equal(res.status, 200);
    assert.deepEqual({ length: res.bytes.length, sha256: sha256(res.bytes) }, t.member.bytesSent.at(-1));
  });

  for (const protocol of ['SPDY/3.1', 'websocket']) {
    it(`passes a ${protocol} upgrade through both ways`, async () => {
      const socket = tlsConnect({ host: '127.0.0.1', port: t.kubePort, ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem, servername: 'localhost' });
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

  it('reuses upstream connections for sequential requests', async () => {
    const before = t.member.seen.length;
    for (let i = 0; i < 5; i++) assert.equal((await t.kubeGet('/version')).status, 200);
    assert.equal(t.member.seen.length - before, 5);
    // One pooled TLS connection serves them all (the member counts open sockets).
    assert.ok(t.member.openSockets() <= 2, `member sees ${t.member.openSockets()} sockets`);
  });
});

describe('tunnel with a client-certificate agent', () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture({ memberAuth: 'cert' });
    await t.waitConnected(await t.addAgent());
    await t.waitSessions(1);
  });
  after(() => t.close());

  it('presents the agent\'s client certificate to the member apiserver', async () => {
    const res = await t.kubeGet('/version');
    assert.equal(res.status, 200);
    assert.equal(t.member.seen.at(-1)?.clientCN, 'tower-agent');
  });
});

describe('high availability: several agents for one cluster', () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture();
  });
  after(() => t.close());

  it('spreads requests, fails over with a request in flight, and answers 503 once the last agent left', async () => {
    // Each agent reaches the member with its own token: the member tells them apart.
    const a = await t.addAgentWithToken('token-of-a');
    const b = await t.addAgentWithToken('token-of-b');
    await Promise.all([t.waitConnected(a), t.waitConnected(b)]);
    await t.waitSessions(2);
    assert.deepEqual(await t.getVersions(6), { 'token-of-a': 3, 'token-of-b': 3 }, 'round-robin over both agents');
    // A watch in flight on each agent while agent a stops.
    const watches = await t.watchOnEachAgent(['token-of-a', 'token-of-b']);
    const onA = watches.get('token-of-a')!;
    const onB = watches.get('token-of-b')!;
    await a.stop();
    assert.deepEqual(await onA.closed, { complete: false }, 'the watch agent a carried is cut, not left hanging');
    t.member.sendWatchEvent({ metadata: { name: 'after-failover' } });
    await onB.line('after-failover'); // the watch on agent b never noticed
    // Once the proxy has dropped agent a's session. (A request racing the disconnect can
    // still get a 502 from the session that is ending: see issue 16's closing note.)
    await t.waitSessions(1);
    assert.deepEqual(await t.getVersions(4), { 'token-of-b': 4 }, 'the next requests all go to agent b, none fails');
    await b.stop();
    assert.deepEqual(await onB.closed, { complete: false });
    await t.waitSessions(0);
    // The listeners stay (the ports are held while the cluster is served): no agent, 503.
    const res = await t.kubeGet('/version');
    assert.equal(res.status, 503);
    assert.match(JSON.parse(res.body).message, /has no connected agent/);
  });
});
