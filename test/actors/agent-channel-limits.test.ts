/** The agent's dial slots and refusal log, on their own (the hostile suite drives them end to end). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DialSlots } from '../../src/actors/agent/dial-slots.js';
import { SpellLog } from '../../src/actors/agent/spell-log.js';

/** A promise and its resolver. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('DialSlots', () => {
  it('runs at most `max` dials at once; the others wait their turn, first come first served', async () => {
    const slots = new DialSlots(2, 5_000);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      slots.run(new AbortController().signal, async () => {
        started.push(i);
        await gate.promise;
        return i;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [0, 1]);
    assert.equal(slots.busy, 2);
    assert.equal(slots.waiting, 2);
    gates[1]!.resolve();
    await runs[1];
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [0, 1, 2], 'the first waiter got the freed slot');
    for (const gate of gates) gate.resolve();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
    assert.equal(slots.busy, 0);
    assert.equal(slots.waiting, 0);
  });

  it('a failed dial gives its slot back', async () => {
    const slots = new DialSlots(1, 5_000);
    await assert.rejects(
      slots.run(new AbortController().signal, () => Promise.reject(new Error('refused'))),
      /refused/,
    );
    assert.equal(await slots.run(new AbortController().signal, async () => 'next'), 'next');
  });

  it('a waiter gives up when cancelled or after the wait limit, and leaves the queue', async () => {
    const slots = new DialSlots(1, 100);
    const hold = deferred();
    const first = slots.run(new AbortController().signal, () => hold.promise);
    const cancel = new AbortController();
    const cancelled = slots.run(cancel.signal, async () => 'never');
    const timedOut = slots.run(new AbortController().signal, async () => 'never');
    assert.equal(slots.waiting, 2);
    cancel.abort();
    await assert.rejects(cancelled, /cancelled/);
    await assert.rejects(timedOut, /no dial slot within 100 ms \(1 dials in flight, --max-dials\)/);
    assert.equal(slots.waiting, 0);
    hold.resolve();
    await first;
    assert.equal(slots.busy, 0);
  });
});

describe('SpellLog', () => {
  it('one line when refusals start, then one per interval with the count; quiet ends the spell', () => {
    const lines: Array<{ msg: string; [k: string]: unknown }> = [];
    const logger = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text)) });
    let due: (() => void) | undefined;
    const log = new SpellLog(logger, 10_000, { first: 'Refusing channels', more: 'Refused more channels' }, (ms, fn) => {
      assert.equal(ms, 10_000);
      due = fn;
      return () => (due = undefined);
    });
    const tick = () => {
      const fn = due;
      due = undefined;
      fn?.();
    };
    for (let i = 0; i < 100; i += 1) log.note(`reason ${i}`);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['Refusing channels'],
    );
    assert.equal(lines[0]!['reason'], 'reason 0');
    tick();
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.msg, 'Refused more channels');
    assert.equal(lines[1]!['count'], 99);
    assert.equal(lines[1]!['lastReason'], 'reason 99');
    tick();
    assert.equal(lines.length, 2, 'nothing to say in a quiet interval');
    assert.equal(due, undefined, 'and the spell is over');
    log.note('again');
    assert.equal(lines.length, 3, 'a new spell is announced at once');
    log.note('and again');
    log.flush();
    assert.equal(lines.length, 4);
    assert.equal(lines[3]!['count'], 1);
    assert.equal(due, undefined, 'flush stops the timer');
  });
});
