/** PortDuplex: a byte stream over a MessagePort, with credit flow control and both endings. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { MessageChannel, Worker } from 'node:worker_threads';
import { PortDuplex } from '../../src/workers/port-duplex.js';
import { nextEvent } from '../helpers/wait.js';

function pair(options: { windowBytes?: number; highWaterMark?: number } = {}): [PortDuplex, PortDuplex] {
  const { port1, port2 } = new MessageChannel();
  return [new PortDuplex(port1, options), new PortDuplex(port2, options)];
}

/** Read everything `stream` delivers until it ends (bounded). */
async function readAll(stream: Readable, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await nextEvent(stream, 'end', what);
  return Buffer.concat(chunks);
}

/** Random-sized chunks of `total` random bytes. */
function chunksOf(total: number): Buffer[] {
  const data = randomBytes(total);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < total; ) {
    const size = Math.min(total - offset, 1 + Math.floor(Math.random() * 70_000));
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** Write `chunks` honouring write()'s answer, then end. */
async function writeAll(stream: Writable, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) if (!stream.write(chunk)) await nextEvent(stream, 'drain', 'drain');
  stream.end();
}

describe('PortDuplex', () => {
  it('carries bytes in order both ways at once', async () => {
    const [a, b] = pair();
    const there = chunksOf(5 * 1024 * 1024);
    const back = chunksOf(3 * 1024 * 1024);
    const [atB, atA] = await Promise.all([readAll(b, 'b to end'), readAll(a, 'a to end'), writeAll(a, there), writeAll(b, back)]);
    assert.ok(atB.equals(Buffer.concat(there)), 'a → b differs');
    assert.ok(atA.equals(Buffer.concat(back)), 'b → a differs');
    await Promise.all([a.closed ? undefined : nextEvent(a, 'close', 'a to close'), b.closed ? undefined : nextEvent(b, 'close', 'b to close')]);
    assert.equal(a.bytesOut, 5 * 1024 * 1024);
    assert.equal(b.bytesIn, 5 * 1024 * 1024);
  });

  it('bounds what a slow consumer holds: the writer waits for credit', async () => {
    const windowBytes = 256 * 1024;
    const highWaterMark = 64 * 1024;
    const [a, b] = pair({ windowBytes, highWaterMark });
    // A source that would produce 64 MiB as fast as it is asked.
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= 64 * 1024 * 1024) return void this.push(null);
        produced += 16 * 1024;
        this.push(Buffer.alloc(16 * 1024, 1));
      },
    });
    source.pipe(a);
    // b is not read at all: after a moment everything is stuck, within the bounds.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const producedWhileStuck = produced;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(produced, producedWhileStuck, 'the source kept producing');
    assert.ok(a.inflightBytes <= windowBytes + 16 * 1024, `in flight ${a.inflightBytes}`);
    assert.ok(b.readableLength <= windowBytes + highWaterMark + 16 * 1024, `b buffers ${b.readableLength}`);
    assert.ok(producedWhileStuck < 2 * 1024 * 1024, `the source produced ${producedWhileStuck} bytes for a reader that reads nothing`);
    // Now read slowly: everything still arrives.
    let received = 0;
    const sink = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        setImmediate(callback);
      },
    });
    b.pipe(sink);
    await nextEvent(sink, 'finish', 'the slow sink to get everything', 30_000);
    assert.equal(received, 64 * 1024 * 1024);
    const closed = nextEvent(a, 'close', 'a to close');
    a.resume();
    b.end(); // the source already ended a; ending b closes both
    await closed;
  });

  it('half-closes: end() one way, the other way keeps flowing', async () => {
    const [a, b] = pair();
    const bEnded = nextEvent(b, 'end', 'b to see the end');
    b.resume();
    a.end();
    await bEnded;
    assert.equal(a.destroyed, false);
    const got = readAll(a, 'a to see the end');
    b.end('reply after the end');
    assert.equal((await got).toString(), 'reply after the end');
    await Promise.all([a.closed ? undefined : nextEvent(a, 'close', 'a closed'), b.closed ? undefined : nextEvent(b, 'close', 'b closed')]);
  });

  for (const [name, first] of [['a → b', 0], ['b → a', 1]] as const) {
    it(`destroy() aborts the other end (${name})`, async () => {
      const ends = pair();
      const [from, to] = first === 0 ? ends : [ends[1], ends[0]];
      let ended = false;
      to.on('end', () => (ended = true));
      to.resume();
      const closed = nextEvent(to, 'close', 'the other end to close');
      from.write('partial');
      from.destroy();
      await closed;
      assert.equal(to.destroyed, true);
      assert.equal(ended, false, 'an abort must not look like a clean end');
    });
  }

  it('destroy() after end() is graceful: the other end reads everything, then closes', async () => {
    const [a, b] = pair();
    a.end('last words');
    await nextEvent(a, 'finish', 'a to finish');
    a.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20)); // b reads only now
    let errored: unknown;
    b.on('error', (error) => (errored = error));
    // b's writes after its peer is gone are dropped, not errors.
    b.write('into the void');
    const got = readAll(b, 'b to read to the end');
    assert.equal((await got).toString(), 'last words');
    await (b.closed ? undefined : nextEvent(b, 'close', 'b to close'));
    assert.equal(b.destroyed, true);
    assert.equal(errored, undefined);
  });

  it('a port closed under it (the other thread died) ends the stream', async () => {
    const { port1, port2 } = new MessageChannel();
    const a = new PortDuplex(port1);
    a.resume();
    const closed = nextEvent(a, 'close', 'a to close');
    port2.close();
    await closed;
    assert.equal(a.destroyed, true);
  });

  it('crosses a worker thread and back (echo), and the thread ending ends it', async () => {
    const worker = new Worker(new URL('../helpers/port-echo-worker.js', import.meta.url));
    try {
      await once(worker, 'online');
      const { port1, port2 } = new MessageChannel();
      const stream = new PortDuplex(port1, { windowBytes: 128 * 1024 });
      worker.postMessage({ port: port2, windowBytes: 128 * 1024 }, [port2]);
      const chunks = chunksOf(4 * 1024 * 1024);
      const [echoed] = await Promise.all([readAll(stream, 'the echo to end'), writeAll(stream, chunks)]);
      assert.ok(echoed.equals(Buffer.concat(chunks)), 'the echo differs');

      const { port1: p1, port2: p2 } = new MessageChannel();
      const second = new PortDuplex(p1);
      worker.postMessage({ port: p2 }, [p2]);
      second.write('hello');
      await nextEvent(second, 'data', 'the echo of hello');
      const closed = nextEvent(second, 'close', 'the stream to close with its thread');
      await worker.terminate();
      await closed;
    } finally {
      await worker.terminate();
    }
  });
});
