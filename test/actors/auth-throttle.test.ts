/** The failed-authentication throttle, on an injected clock and scheduler. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuthThrottle, throttleKey, type AuthThrottleLimits, type Every } from '../../src/actors/proxy/auth-throttle.js';
import { authThrottleMetrics } from '../../src/metrics/auth-throttle-metrics.js';

interface Line {
  readonly msg: string;
  readonly [field: string]: unknown;
}

function harness(limits: Partial<AuthThrottleLimits> = {}) {
  let now = 1_000_000;
  const lines: Line[] = [];
  const logger = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
  const ticks: Array<() => void> = [];
  let stopped = 0;
  const every: Every = (ms, fn) => {
    assert.equal(ms, limits.summaryIntervalMs ?? 60_000);
    ticks.push(fn);
    return () => void (stopped += 1);
  };
  const counted = { failures: 0, delayed: 0, refused: 0 };
  const throttle = new AuthThrottle({
    logger,
    limits,
    now: () => now,
    every,
    counters: {
      failures: { inc: () => void (counted.failures += 1) },
      throttled: { inc: ({ action }) => void (counted[action] += 1) },
    },
  });
  return {
    throttle,
    lines,
    counted,
    advance: (ms: number) => void (now += ms),
    tick: () => ticks.forEach((fn) => fn()),
    stopped: () => stopped,
  };
}

const fail = (t: AuthThrottle, address: string, n = 1) => {
  for (let i = 0; i < n; i += 1) t.failure(address, { cluster: 'alpha', reason: 'Unauthorized agent: wrong token for cluster "alpha"' });
};

describe('AuthThrottle', () => {
  it('lets the first failures through, then delays (doubling, capped), then refuses for a while', () => {
    const h = harness({ freeFailures: 3, baseDelayMs: 100, maxDelayMs: 350, refuseAfter: 7, refuseForMs: 60_000 });
    const t = h.throttle;
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'allow' });
    fail(t, '10.0.0.1', 3);
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'allow' }, 'three free failures');
    fail(t, '10.0.0.1');
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'delay', ms: 100 });
    fail(t, '10.0.0.1');
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'delay', ms: 200 });
    fail(t, '10.0.0.1');
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'delay', ms: 350 }, 'capped');
    fail(t, '10.0.0.1'); // the 7th
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'refuse', retryAfterMs: 60_000 });
    h.advance(59_000);
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'refuse', retryAfterMs: 1_000 });
    h.advance(1_000);
    assert.deepEqual(t.check('10.0.0.1'), { kind: 'delay', ms: 350 }, 'after the refusal: still slowed down');
    fail(t, '10.0.0.1');
    assert.equal(t.check('10.0.0.1').kind, 'refuse', 'one more failure refuses again at once');
    assert.deepEqual(t.stats, { failures: 8, delayed: 4, refused: 3, tracked: 1 });
    assert.deepEqual(h.counted, { failures: 8, delayed: 4, refused: 3 });
  });

  it('leaves other addresses alone', () => {
    const h = harness({ freeFailures: 0, refuseAfter: 2 });
    fail(h.throttle, '10.0.0.1', 5);
    assert.equal(h.throttle.check('10.0.0.1').kind, 'refuse');
    assert.deepEqual(h.throttle.check('10.0.0.2'), { kind: 'allow' });
    assert.deepEqual(h.throttle.check('::ffff:10.0.0.2'), { kind: 'allow' });
    assert.equal(h.throttle.check('::ffff:10.0.0.1').kind, 'refuse', 'an IPv4-mapped address is the same host');
  });

  it('forgets an address after a quiet spell, but not while it is refused', () => {
    const h = harness({ freeFailures: 1, refuseAfter: 3, refuseForMs: 20 * 60_000, forgetAfterMs: 10 * 60_000 });
    fail(h.throttle, '10.0.0.1', 2);
    assert.equal(h.throttle.check('10.0.0.1').kind, 'delay');
    h.advance(10 * 60_000);
    assert.deepEqual(h.throttle.check('10.0.0.1'), { kind: 'allow' });
    assert.equal(h.throttle.stats.tracked, 0, 'dropped from the table');
    fail(h.throttle, '10.0.0.2', 3);
    h.advance(15 * 60_000);
    assert.equal(h.throttle.check('10.0.0.2').kind, 'refuse', 'a refusal outlives the quiet spell');
    h.advance(5 * 60_000);
    assert.deepEqual(h.throttle.check('10.0.0.2'), { kind: 'allow' });
  });

  it('remembers at most maxAddresses, dropping the least recently seen', () => {
    const h = harness({ freeFailures: 0, maxAddresses: 3 });
    for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) fail(h.throttle, address);
    fail(h.throttle, '10.0.0.1'); // seen again: now the most recent
    fail(h.throttle, '10.0.0.4');
    fail(h.throttle, '10.0.0.5');
    assert.equal(h.throttle.stats.tracked, 3);
    assert.equal(h.throttle.check('10.0.0.1').kind, 'delay', 'kept');
    assert.deepEqual(h.throttle.check('10.0.0.2'), { kind: 'allow' }, 'evicted');
    assert.deepEqual(h.throttle.check('10.0.0.3'), { kind: 'allow' }, 'evicted');
    for (let i = 0; i < 5_000; i += 1) fail(h.throttle, `10.1.${i >> 8}.${i & 255}`);
    assert.equal(h.throttle.stats.tracked, 3, 'a flood of sources does not grow the table');
  });

  it('logs the first failures of an interval singly and the rest in one summary line', () => {
    const h = harness({ immediateLines: 2, freeFailures: 1, refuseAfter: 100 });
    fail(h.throttle, '10.0.0.1', 6);
    fail(h.throttle, '2001:db8::7', 4);
    h.throttle.check('10.0.0.1');
    assert.deepEqual(
      h.lines.map((l) => l.msg),
      ['Agent rejected', 'Agent rejected'],
    );
    assert.equal(h.lines[0]!['remote'], '10.0.0.1');
    assert.equal(h.lines[0]!['cluster'], 'alpha');
    assert.match(String(h.lines[0]!['reason']), /wrong token/);
    h.tick();
    assert.equal(h.lines.length, 3);
    const summary = h.lines[2]!;
    assert.equal(summary.msg, 'Failed agent authentications (summary)');
    assert.equal(summary['failures'], 10);
    assert.equal(summary['notLoggedSingly'], 8);
    assert.equal(summary['delayed'], 1);
    assert.equal(summary['addresses'], 2);
    assert.equal(summary['top'], '10.0.0.1 (7), 2001:db8:0:0::/64 (4)');
    assert.equal(summary['clusters'], 'alpha (10)');
    h.tick();
    assert.equal(h.lines.length, 3, 'a quiet interval logs nothing');
    fail(h.throttle, '10.0.0.9');
    assert.equal(h.lines.length, 4, 'a new interval logs its first failure at once');
    h.throttle.stop();
    assert.equal(h.stopped(), 1);
    assert.equal(h.lines.length, 4, 'nothing left unlogged to sum up');
  });

  it('logs a refusal once it starts, with how long it lasts', () => {
    const h = harness({ immediateLines: 10, freeFailures: 0, refuseAfter: 2, refuseForMs: 120_000 });
    fail(h.throttle, '10.0.0.1', 2);
    assert.equal(h.lines[1]!['refusedForS'], 120);
    assert.equal(h.lines[0]!['refusedForS'], undefined);
  });
});

describe('authThrottleMetrics', () => {
  it('exports what the throttle counts', async () => {
    const registry = new Registry();
    let throttle: AuthThrottle | undefined;
    const counters = authThrottleMetrics(registry, () => throttle?.stats.tracked ?? 0);
    throttle = new AuthThrottle({ logger: pino({ level: 'silent' }), counters, limits: { freeFailures: 1, refuseAfter: 3 }, every: () => () => {} });
    fail(throttle, '10.0.0.1', 2);
    throttle.check('10.0.0.1');
    fail(throttle, '10.0.0.1');
    throttle.check('10.0.0.1');
    fail(throttle, '10.0.0.2');
    const text = await registry.metrics();
    assert.match(text, /^tower_proxy_auth_failures_total 4$/m);
    assert.match(text, /^tower_proxy_auth_throttled_total\{action="delayed"\} 1$/m);
    assert.match(text, /^tower_proxy_auth_throttled_total\{action="refused"\} 1$/m);
    assert.match(text, /^tower_proxy_auth_throttle_addresses 2$/m);
  });
});

describe('throttleKey', () => {
  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    assert.equal(throttleKey('192.0.2.7'), '192.0.2.7');
    assert.equal(throttleKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(throttleKey('2001:db8:1:2::5'), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:0db8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(throttleKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.notEqual(throttleKey('2001:db8:1:3::5'), throttleKey('2001:db8:1:2::5'));
    assert.equal(throttleKey('::1'), '0:0:0:0::/64');
    assert.equal(throttleKey('unknown'), 'unknown');
  });
});
