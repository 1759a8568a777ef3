/**
 * The reading clock behind "an agent is suspect after N ms of silence": it runs with the
 * wall clock while our event loop is in step, and a stall of our own counts as at most two
 * ticks (100 ms) — during the stall and after it.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { it } from 'node:test';
import { readingTime } from '../../src/actors/proxy/loop-clock.js';

const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

it('runs with the wall clock while the loop is in step', async () => {
  const start = readingTime();
  const wallStart = performance.now();
  await delay(400);
  const read = readingTime() - start;
  const wall = performance.now() - wallStart;
  // A loaded machine may run a tick late and lose a little; never gains.
  assert.ok(read <= wall + 1, `read ${read.toFixed(0)} ms in ${wall.toFixed(0)} ms`);
  assert.ok(read >= 250, `read ${read.toFixed(0)} ms in ${wall.toFixed(0)} ms`);
});

it('a 1 s stall of our own counts as at most 100 ms, right after it and later on', async () => {
  readingTime();
  await delay(120);
  const before = readingTime();
  block(1_000);
  const rightAfter = readingTime();
  assert.ok(rightAfter - before <= 50, `${(rightAfter - before).toFixed(0)} ms read during the stall`);
  await delay(200);
  const later = readingTime();
  // 100 ms for the stall, and the 200 ms after it read in step (a loaded machine: less).
  assert.ok(later - before <= 100 + 200 + 60, `${(later - before).toFixed(0)} ms read over a 1 s stall and 200 ms`);
  assert.ok(later - before >= 150, `${(later - before).toFixed(0)} ms read over a 1 s stall and 200 ms`);
});

it('readings never go back, across marks and stalls', async () => {
  let last = readingTime();
  for (let i = 0; i < 30; i += 1) {
    if (i % 10 === 5) block(150);
    await delay(i % 3 === 0 ? 0 : 20);
    const now = readingTime();
    assert.ok(now >= last, `reading went back from ${last} to ${now}`);
    last = now;
  }
});
