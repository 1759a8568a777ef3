/**
 * The member TLS context of an agent session: none while the session is idle, taken at
 * the first request, shared by sessions with the same CA and credentials, given back when
 * the session's agent is destroyed — and the member's certificate is still verified.
 */
import assert from 'node:assert/strict';
import { get, createServer, type Server } from 'node:https';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TunnelHttpsAgent, upstreamSecureContexts } from '../../src/actors/http/upstream-agents.js';
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

describe('TunnelHttpsAgent TLS contexts', () => {
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

  const fetch = (agent: TunnelHttpsAgent) =>
    new Promise<string>((resolve, reject) => {
      get({ agent, host: '127.0.0.1', path: '/' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });

  it('takes no context while idle, one shared context for the same CA, none after destroy', async () => {
    const before = upstreamSecureContexts.size;
    const one = new TunnelHttpsAgent(openStream, target, config(caPem));
    const two = new TunnelHttpsAgent(openStream, target, config(caPem));
    assert.equal(upstreamSecureContexts.size, before, 'idle sessions hold no TLS context');
    assert.equal(await fetch(one), 'ok');
    assert.equal(await fetch(two), 'ok');
    assert.equal(upstreamSecureContexts.size, before + 1, 'one context for both');
    one.destroy();
    assert.equal(upstreamSecureContexts.size, before + 1, 'still used by the other');
    two.destroy();
    two.destroy();
    assert.equal(upstreamSecureContexts.size, before, 'released with the last one');
  });

  it('still verifies the member: another CA is refused', async () => {
    const agent = new TunnelHttpsAgent(openStream, target, config(otherCaPem));
    try {
      await assert.rejects(fetch(agent), /self[- ]signed|unable to verify|certificate/i);
    } finally {
      agent.destroy();
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
