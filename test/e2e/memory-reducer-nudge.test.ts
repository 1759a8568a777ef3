/**
 * V8 13+ (Node 24) never lets its memory reducer shrink a quiet plain-JavaScript process
 * (src/bin/memory-reducer-nudge.ts); the bins nudge it. Read from V8's own trace: the
 * reducer's first tick, 8 s after a burst of garbage, must find the allocation rate low.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nudgeMemoryReducer } from '../../src/bin/memory-reducer-nudge.js';
import { runToEnd } from '../helpers/bin-process.js';

const NUDGE_MODULE = new URL('../../src/bin/memory-reducer-nudge.js', import.meta.url).href;
const V8_MAJOR = Number(process.versions.v8.split('.')[0]);

/** The reducer's verdict at its first tick in a child that made ~30 MB of garbage and went quiet. */
async function firstVerdict(nudge: boolean): Promise<string> {
  const script = `
    ${nudge ? `(await import(${JSON.stringify(NUDGE_MODULE)})).nudgeMemoryReducer();` : ''}
    let garbage = [];
    for (let i = 0; i < 300000; i++) { garbage.push({ i, s: 'x' + i }); if (garbage.length > 100000) garbage = []; }
    garbage = null;
    setInterval(() => {}, 1000);
    setTimeout(() => process.exit(0), 9500);`;
  const child = await runToEnd(process.execPath, ['--trace-memory-reducer', '--input-type=module', '-e', script], {}, 30_000);
  assert.equal(child.exitCode, 0, child.lines.map((l) => l.text).join('\n'));
  const verdict = child.lines.map((l) => /Memory reducer: (low alloc|high alloc)/.exec(l.text)?.[1]).find((v) => v !== undefined);
  assert.ok(verdict, `no memory reducer tick in 9.5 s:\n${child.lines.map((l) => l.text).join('\n')}`);
  return verdict;
}

describe('the memory reducer after a burst', { concurrency: true }, () => {
  const older = V8_MAJOR < 13 && `V8 ${process.versions.v8} needs no nudge (and may not trace its reducer)`;

  it('with the bins\' nudge, its first tick finds the allocation rate low (it then shrinks the heap)', { skip: older }, async () => {
    assert.equal(await firstVerdict(true), 'low alloc');
  });

  it('without it, V8 13+ finds the rate high (what the nudge is for)', { skip: older }, async () => {
    assert.equal(await firstVerdict(false), 'high alloc');
  });

  it('older V8 gets no timer', () => {
    assert.equal(nudgeMemoryReducer('12.4.254.21'), false);
  });
});
