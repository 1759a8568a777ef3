/**
 * [throttle wiring — lead] A token-guessing storm on the real bin/proxy, from 127.0.0.2
 * (another host, as far as the proxy can tell), while a good agent connects from
 * 127.0.0.1. The throttle (src/actors/proxy/auth-throttle.ts, default limits) must refuse
 * the guesser after DEFAULT_AUTH_THROTTLE.refuseAfter failures — cheaply, before a
 * handshake — log a few lines and not one per attempt, count it all in /metrics, and leave
 * the good agent alone.
 *
 * Before: 2,000 guesses judged at 175/s, a warning line each, no metric.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_AUTH_THROTTLE } from '../../src/actors/proxy/auth-throttle.js';
import { describeReport } from '../helpers/attack-report.js';
import { tokenStormAttack } from '../helpers/attacks-on-proxy.js';
import { assertBounded, assertGoodClientFine, calmLatency } from '../helpers/hostile-asserts.js';
import { startHostileWorld, type HostileWorld } from '../helpers/hostile-world.js';

const CONCURRENCY = 8;

describe('[throttle wiring — lead] a token-guessing storm', { timeout: 120_000 }, () => {
  let world: HostileWorld;
  let calmMs: number;
  before(async () => {
    world = await startHostileWorld();
    calmMs = await calmLatency(world.probe);
  });
  after(() => world?.close());

  it('is refused after a few guesses, logged in a few lines, counted; a good agent elsewhere is unaffected', async () => {
    // Slowed down first (a wait doubling to 8 s before each verdict), then refused: at 8 at
    // a time the guesser reaches the refusal after ~15 s.
    const report = await tokenStormAttack(world, { maxAttempts: 400, durationMs: 20_000, concurrency: CONCURRENCY });
    const context = describeReport(report);
    const judged = report.facts['judged'] as number;
    assert.ok(judged <= DEFAULT_AUTH_THROTTLE.refuseAfter + CONCURRENCY, `${judged} guesses were judged: ${context}`);
    assert.ok((report.facts['refusedEarly'] as number) > 0, `nothing was refused early: ${context}`);
    assert.ok((report.facts['rejectionLines'] as number) <= DEFAULT_AUTH_THROTTLE.immediateLines + 1, `a line per guess: ${context}`);
    assert.ok((report.facts['metricsFailures'] as number) >= judged, `tower_proxy_auth_failures_total: ${context}`);
    assert.ok((report.facts['metricsThrottled'] as number) > 0, `tower_proxy_auth_throttled_total: ${context}`);
    assert.ok((report.facts['goodAgentConnectMaxMs'] as number) < calmMs + 2_000, `the good agent was slowed down: ${context}`);
    assertBounded(report, { rssGrowthMiB: 48 });
    assertGoodClientFine(report, calmMs);
  });
});
