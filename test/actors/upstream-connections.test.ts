/**
 * The member TLS context of an agent session: none while the session is idle, taken at
 * the first request, shared by sessions with the same CA and credentials, given back when
 * the session's connections are destroyed — and the member's certificate is still verified.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TlsTunnelConnections, TunnelConnections, upstreamSecureContexts } from '../../src/actors/http/upstream-connections.js';
import { ResponseRelay } from '../../src/actors/http/response-relay.js';
import { SharedSecureContexts } from '../../src/actors/http/shared-secure-contexts.js';
import { createSelfSignedCa } from '../../src/pki/ca-create.js';
import { importCa } from '../../src/pki/ca.js';
import { issueServingCert } from '../../src/pki/issue.js';
import type { AgentConfig } from '../../src/protocol/agent-config.js';

const config = (caPem: string): AgentConfig => ({
  version: 'v0',
  name: 'c',
  token: 't',
  kubernetesSvcHost: '127.0.0.1:6443',
  kubeSphereSvcHost: '127.0.0.1:80',
  caData: Buffer.from(caPem),
});

/** One GET through the pool, as the reverse proxy sends it: the body, or the failure. */
const fetch = (connections: TunnelConnections, host: string, path = '/') =>
  new Promise<string>((resolve, reject) => {
    let body = '';
    const sink = { write: (chunk: Buffer) => ((body += chunk.toString()), true), end: () => resolve(body), destroy: () => reject(new Error('cut')), once: () => sink };
    connections.send({ method: 'GET', path, headers: { host } }, new ResponseRelay({ started: () => sink, failed: reject }));
  });

const undiciLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/undici/'));

// First in this file (its own process): nothing before it has sent a request.
it('loads undici at the first request, not before: an idle proxy does not pay for it', async () => {
  const member = createHttpServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => member.listen(0, '127.0.0.1', resolve));
  const port = (member.address() as AddressInfo).port;
  const connections = new TunnelConnections(async () => connect(port, '127.0.0.1'), `127.0.0.1:${port}`);
  try {
    assert.equal(undiciLoaded(), false, 'undici was loaded before any request');
    assert.equal(await fetch(connections, `127.0.0.1:${port}`), 'ok');
    assert.equal(undiciLoaded(), true, 'the check sees undici once it is used');
  } finally {
    connections.destroy();
    member.closeAllConnections();
    await new Promise((resolve) => member.close(resolve));
  }
});

it('keeps a connection that answered whole for the next request; closes one whose answer broke off', async () => {
  let accepted = 0;
  const member = createHttpServer((req, res) => {
    if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': '100' }).write('partial');
      return void setImmediate(() => res.destroy());
    }
    res.end('ok');
  });
  member.on('connection', () => (accepted += 1));
  await new Promise<void>((resolve) => member.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(member.address() as AddressInfo).port}`;
  const connections = new TunnelConnections(async () => connect(Number(host.split(':')[1]), '127.0.0.1'), host);
  try {
    assert.equal(await fetch(connections, host), 'ok');
    assert.equal(await fetch(connections, host), 'ok');
    assert.equal(accepted, 1, 'the second request reused the connection of the first');
    await assert.rejects(fetch(connections, host, '/cut'), /cut/);
    assert.equal(await fetch(connections, host), 'ok');
    assert.equal(accepted, 2, 'the broken one was not reused');
  } finally {
    connections.destroy();
    member.closeAllConnections();
    await new Promise((resolve) => member.close(resolve));
  }
});

describe('TlsTunnelConnections: TLS contexts', () => {
  let server: Server;
  let target: string;
  let caPem: string;
  let otherCaPem: string;
  const openStream = async () => connect(Number(target.split(':')[1]), '127.0.0.1');

  before(async () => {
    const ca = await createSelfSignedCa({ commonName: 'member-ca' });
    caPem = ca.certPem;
    otherCaPem = (await createSelfSignedCa({ commonName: 'other-ca' })).certPem;
    const serving = await issueServingCert(await importCa(ca), { hosts: ['127.0.0.1'] });
    server = createServer({ cert: serving.certPem, key: serving.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('takes no context while idle, one shared context for the same CA, none after destroy', async () => {
    const before = upstreamSecureContexts.size;
    const one = new TlsTunnelConnections(openStream, target, config(caPem));
    const two = new TlsTunnelConnections(openStream, target, config(caPem));
    assert.equal(upstreamSecureContexts.size, before, 'idle sessions hold no TLS context');
    assert.equal(await fetch(one, target), 'ok');
    assert.equal(await fetch(two, target), 'ok');
    assert.equal(upstreamSecureContexts.size, before + 1, 'one context for both');
    one.destroy();
    assert.equal(upstreamSecureContexts.size, before + 1, 'still used by the other');
    two.destroy();
    two.destroy();
    assert.equal(upstreamSecureContexts.size, before, 'released with the last one');
  });

  it('still verifies the member: another CA is refused', async () => {
    const connections = new TlsTunnelConnections(openStream, target, config(otherCaPem));
    try {
      await assert.rejects(fetch(connections, target), /self[- ]signed|unable to verify|certificate/i);
    } finally {
      connections.destroy();
    }
  });
});

describe('SharedSecureContexts', () => {
  it('one context per distinct material, counted', () => {
    const contexts = new SharedSecureContexts();
    const a = contexts.acquire({ ca: Buffer.from('') });
    const b = contexts.acquire({});
    assert.equal(a.context, b.context, 'an empty CA is no CA');
    const c = contexts.acquire({ ca: undefined, cert: Buffer.from('x') });
    assert.equal(c.context, a.context, 'a certificate without its key is not used, so not part of the key');
    assert.equal(contexts.size, 1);
    a.release();
    a.release();
    b.release();
    assert.equal(contexts.size, 1, 'a double release counts once');
    c.release();
    assert.equal(contexts.size, 0);
  });
});
