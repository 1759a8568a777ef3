/** Dead peers are noticed on both ends: the agent's ping times out, the proxy probes agents. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from 'xstate';
import { startAgent } from '../../src/actors/agent/start-agent.js';
import { silentLogger } from '../../src/log.js';
import { startFakeProxy } from '../helpers/fake-proxy.js';
import { startMemberApiserver } from '../helpers/member-apiserver.js';
import { startTcpRelay } from '../helpers/tcp-relay.js';
import { startTunnelFixture } from '../helpers/tunnel-fixture.js';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

describe('keepalive', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('agent: a proxy that stops answering pings is given up and redialled', async () => {
    const proxy = await startFakeProxy({ ignorePings: true });
    cleanups.push(() => proxy.close());
    const member = await startMemberApiserver();
    cleanups.push(() => member.close());
    const dir = await mkdtemp(join(tmpdir(), 'tower-ka-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kc');
    await writeFile(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: m, cluster: {server: "https://127.0.0.1:${member.port}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: m, user: u}}]\ncurrent-context: c\n`);
    const agent = await startAgent({
      name: 'alpha', token: 'x', proxyUrl: `ws://127.0.0.1:${proxy.port}`,
      credentials: { kind: 'kubeconfig', path: kubeconfig }, kubesphereService: '127.0.0.1:80',
      keepaliveMs: 50, keepaliveCountMax: 4, maxRetry: 0, backoff: { minMs: 20, maxMs: 50, factor: 1.4 },
      handshakeTimeoutMs: 5_000, dialTimeoutMs: 1_000, logger: silentLogger(),
    });
    cleanups.push(() => agent.stop());
    await waitFor(agent.actor, (s) => s.matches({ session: { connected: 'awaitingPong' } }), { timeout: 5_000 });
    const afterTimeout = await waitFor(agent.actor, (s) => s.matches('backoff'), { timeout: 5_000 });
    assert.match(afterTimeout.context.lastError ?? '', /keepalive/);
    // …and it comes back on its own.
    await waitFor(agent.actor, (s) => s.matches({ session: 'connected' }), { timeout: 5_000 });
    assert.ok(proxy.configs.length >= 2);
  });

  it('proxy: a silent agent (network partition) is dropped and its cluster answers 503', async () => {
    const t = await startTunnelFixture({ proxy: { limits: { keepaliveIntervalMs: 100, keepaliveCountMax: 2 } } });
    cleanups.push(() => t.close());
    const relay = await startTcpRelay(t.proxy.port);
    cleanups.push(() => relay.close());
    // keepalive 0: this agent sends no pings of its own, so only the proxy's probe can notice it.
    const agent = await t.addAgent({ keepaliveMs: 0, proxyUrl: `ws://127.0.0.1:${relay.port}` });
    await t.waitConnected(agent);
    await t.waitSessions(1);
    const [session] = [...t.proxy.sessions.values()];
    assert.ok(session);
    // A silent partition: nothing moves either way, no FIN, no RST.
    relay.freeze();
    await session.done;
    assert.match(session.actor.getSnapshot().context.reason ?? '', /keepalive|timeout/i);
    await t.waitSessions(0);
    assert.equal((await t.kubeGet('/version')).status, 503);
  });
});

