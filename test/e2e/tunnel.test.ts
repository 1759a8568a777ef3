/** The tunnel end to end on 127.0.0.1: agent + proxy + member apiserver + ks-apiserver. */
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCa, importCa, issueClientCert } from '../../src/pki/index.js';
import { MEMBER_TOKEN } from '../helpers/member-apiserver.js';
import { startTunnelFixture, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { nextEvent } from '../helpers/wait.js';

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
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: t.kubePort, path: '/version', ca: t.proxyCa.certPem, agent: false }, resolve);
        req.on('error', reject);
        req.end();
      }),
    );
  });

  it('refuses a client certificate from another CA', async () => {
    const other = await createSelfSignedCa({ commonName: 'someone-else' });
    const cert = await issueClientCert(await importCa(other), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
    await assert.rejects(t.kubeGet('/version', { cert: cert.certPem, key: cert.keyPem }));
  });

  it('streams a watch event by event', async () => {
    const watchOpened = nextEvent(t.member.events, 'watch-open', 'the member to see the watch');
    const lines: string[] = [];
    let onLine: (() => void) | undefined;
    const req = httpsRequest({
      host: '127.0.0.1', port: t.kubePort, path: '/api/v1/namespaces?watch=1', agent: false,
      ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem,
    });
    const response = nextEvent<import('node:http').IncomingMessage>(req, 'response', 'watch response headers');
    req.end();
    const res = await response;
    assert.equal(res.statusCode, 200);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      lines.push(...chunk.split('\n').filter(Boolean));
      onLine?.();
    });
    await watchOpened;
    for (const name of ['first', 'second']) {
      const got = new Promise<void>((resolve) => (onLine = () => lines.some((l) => l.includes(name)) && resolve()));
      t.member.sendWatchEvent({ metadata: { name } });
      await got; // each event arrives while the response is still open
    }
    assert.equal(lines.length, 2);
    req.destroy();
  });

  it('carries 8 MiB of body intact', async () => {
    const res = await t.kubeGet(`/bytes?n=${8 * 1024 * 1024}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 8 * 1024 * 1024);
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

  it('spreads requests, fails over at once, and answers 503 once the last agent left', async () => {
    const a = await t.addAgent();
    const b = await t.addAgent();
    await Promise.all([t.waitConnected(a), t.waitConnected(b)]);
    await t.waitSessions(2);
    for (let i = 0; i < 6; i++) assert.equal((await t.kubeGet('/version')).status, 200);
    await a.stop();
    await t.waitSessions(1);
    for (let i = 0; i < 4; i++) assert.equal((await t.kubeGet('/version')).status, 200);
    await b.stop();
    await t.waitSessions(0);
    // The listeners stay (the ports are held while the cluster is served): no agent, 503.
    const res = await t.kubeGet('/version');
    assert.equal(res.status, 503);
    assert.match(JSON.parse(res.body).message, /has no connected agent/);
  });
});
