/**
 * [keepalive — lead] Peers that freeze. A stopped agent (SIGSTOP) of a cluster served by
 * two agents: with --keepalive-interval 1s --keepalive-count 3 the proxy drops its
 * session within a few seconds, and meanwhile no request waits on it (a suspected-dead
 * session gets no new requests; the other agent serves them at once). A proxy that stops
 * answering: the agent with --keepalive 1s --keepalive-count 3 gives the session up as
 * quickly and connects again.
 *
 * Before: a stopped agent was noticed after ~60 s, and new requests meanwhile waited the
 * 15 s channel-open timeout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ManagedChild } from '../../dev/demo/child.js';
import { probeWhile } from '../helpers/attack-report.js';
import { startHostileProxyStage, type HostileProxyStage } from '../helpers/hostile-proxy.js';
import { calmLatency } from '../helpers/hostile-asserts.js';
import { startHostileWorld, type HostileWorld } from '../helpers/hostile-world.js';

describe('[keepalive — lead] a frozen agent', { timeout: 120_000 }, () => {
  let world: HostileWorld;
  let second: ManagedChild;
  let calmMs: number;
  before(async () => {
    world = await startHostileWorld({ proxyArgs: ['--keepalive-interval', '1s', '--keepalive-count', '3'] });
    second = await world.startAgent(world.good);
    calmMs = await calmLatency(world.probe);
  });
  after(async () => {
    world?.goodAgent?.process.kill('SIGCONT');
    await world?.close();
  });

  it('is dropped within seconds, and no request waits on it meanwhile', async () => {
    const frozen = world.goodAgent!;
    const from = world.proxy.output.length;
    const probes = probeWhile(world.probe, 100);
    const stoppedAt = performance.now();
    frozen.process.kill('SIGSTOP');
    try {
      await world.proxy.waitFor(/"cluster":"good"[^\n]*"msg":"Agent disconnected"/, 10_000, from);
      const droppedAfterMs = performance.now() - stoppedAt;
      assert.ok(droppedAfterMs <= 6_000, `dropped after ${droppedAfterMs.toFixed(0)} ms`);
    } finally {
      frozen.process.kill('SIGCONT');
    }
    const summary = await probes.stop();
    assert.deepEqual(summary.failures, [], 'requests failed while an agent was frozen');
    const slowest = Math.max(summary.maxKubeMs, summary.maxKsMs);
    assert.ok(
      slowest <= calmMs + 2_000,
      `kube ${summary.maxKubeMs.toFixed(0)} ms, ks ${summary.maxKsMs.toFixed(0)} ms: a request waited ${slowest.toFixed(0)} ms on the frozen agent`,
    );
    assert.ok(second.exit === undefined, 'the other agent kept running');
  });
});

describe('[keepalive — lead] a frozen proxy', { timeout: 60_000 }, () => {
  let stage: HostileProxyStage | undefined;
  after(() => stage?.close());

  it('the agent gives the session up within a few seconds and connects again', async () => {
    stage = await startHostileProxyStage({ kube: 'holder', ks: 'holder', agentArgs: ['--keepalive', '1s', '--keepalive-count', '3'] });
    const connection = await stage.nextConnection();
    const frozenAt = performance.now();
    stage.stopReading(connection); // answers nothing from now on
    await stage.nextConnection();
    const ms = performance.now() - frozenAt;
    assert.ok(ms <= 8_000, `the agent reconnected after ${ms.toFixed(0)} ms`);
    assert.match(stage.agent.output, /keepalive: no reply from proxy/);
    stage.drop(connection);
  });
});
