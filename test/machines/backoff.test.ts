import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../../src/machines/backoff.js';

const OPTIONS: BackoffOptions = { minMs: 1_000, maxMs: 10_000, factor: 1.4 };
/** Largest value Math.random can return is just below 1. */
const ALMOST_ONE = 1 - Number.EPSILON;

test('the step grows ×1.4 per attempt: with random 1 the delay is the whole step', () => {
  const delays = [1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, OPTIONS, () => ALMOST_ONE));
  assert.deepEqual(delays, [1_000, 1_400, 1_960, 2_744, 3_842]);
});

test('with random 0 the delay is half the step (equal jitter)', () => {
  const delays = [1, 2, 3].map((attempt) => backoffDelay(attempt, OPTIONS, () => 0));
  assert.deepEqual(delays, [500, 700, 980]);
});

test('with random 0.5 the delay is three quarters of the step', () => {
  assert.equal(backoffDelay(1, OPTIONS, () => 0.5), 750);
  assert.equal(backoffDelay(2, OPTIONS, () => 0.5), 1_050);
});

test('jitter stays inside [step/2, step] for any random value', () => {
  for (let attempt = 1; attempt <= 20; attempt += 1) {
    const step = Math.min(OPTIONS.maxMs, OPTIONS.minMs * OPTIONS.factor ** (attempt - 1));
    for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, ALMOST_ONE]) {
      const delay = backoffDelay(attempt, OPTIONS, () => r);
      assert.ok(delay >= Math.floor(step / 2) && delay <= Math.ceil(step), `attempt ${attempt}, random ${r}: ${delay} not in [${step / 2}, ${step}]`);
    }
  }
});

test('the step is capped at maxMs', () => {
  // 1000 × 1.4^7 ≈ 10541 > 10000: from attempt 8 on the step is the cap.
  assert.equal(backoffDelay(8, OPTIONS, () => ALMOST_ONE), 10_000);
  assert.equal(backoffDelay(50, OPTIONS, () => ALMOST_ONE), 10_000);
  assert.equal(backoffDelay(50, OPTIONS, () => 0), 5_000);
  assert.equal(backoffDelay(1_000, OPTIONS, () => 0.5), 7_500);
});

test('attempt 0 or below is treated as the first attempt', () => {
  assert.equal(backoffDelay(0, OPTIONS, () => ALMOST_ONE), 1_000);
  assert.equal(backoffDelay(-3, OPTIONS, () => ALMOST_ONE), 1_000);
});

test('defaults: 1 s first step, factor 1.4, 120 s cap', () => {
  assert.deepEqual(DEFAULT_BACKOFF, { minMs: 1_000, maxMs: 120_000, factor: 1.4 });
  assert.equal(backoffDelay(100, DEFAULT_BACKOFF, () => ALMOST_ONE), 120_000);
});

test('uses Math.random when no random is given, and stays in range', () => {
  for (let i = 0; i < 100; i += 1) {
    const delay = backoffDelay(3, OPTIONS);
    assert.ok(delay >= 980 && delay <= 1_960, String(delay));
  }
});
