/**
 * pipeStreams() copies both ways until both directions end. A side that closes as soon as
 * it ends (a member's HTTP server closing its connection after the response) must not cut
 * the other direction while it still flushes: an SSH channel can hold the last bytes of a
 * download until the peer grants window.
 */
import assert from 'node:assert/strict';
import { Duplex, Transform } from 'node:stream';
import { it } from 'node:test';
import { pipeStreams, type PipeResult } from '../../src/actors/pipe-streams.js';

/** A channel whose writes complete only when `release()` is called (no window yet). */
function heldChannel(): { stream: Duplex; received: Buffer[]; release(): void } {
  const received: Buffer[] = [];
  const waiting: Array<() => void> = [];
  let held = true;
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      // A destroyed channel sends nothing more (ssh2 drops what waited for window).
      const deliver = () => {
        if (!stream.destroyed) received.push(chunk);
        callback();
      };
      if (held) waiting.push(deliver);
      else deliver();
    },
  });
  return {
    stream,
    received,
    release() {
      held = false;
      for (const deliver of waiting.splice(0)) deliver();
    },
  };
}

/** The member's side: takes every write at once; the test pushes what it sends. */
function memberSocket(): Duplex {
  return new Duplex({ read() {}, write(_chunk, _encoding, callback) { callback(); } });
}

it('a side that closes right after it ends does not cut what the other side still flushes', async () => {
  const channel = heldChannel();
  const body = Buffer.alloc(64 * 1024, 7);
  // The member: sends a response, ends, and closes at once (as a socket does after FIN).
  const member = memberSocket();
  const done = new Promise<PipeResult>((resolve) => pipeStreams(channel.stream, member, resolve));
  member.push(body);
  member.push(null);
  await new Promise((resolve) => member.once('end', resolve));
  member.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  // The window opens, the peer then ends its side of the channel.
  channel.release();
  channel.stream.push(null);
  const result = await done;
  assert.equal(Buffer.concat(channel.received).length, body.length, 'bytes of the response that reached the channel');
  assert.equal(result.bytesBtoA, body.length);
  assert.equal(result.error, undefined);
  assert.ok(channel.stream.destroyed && member.destroyed, 'both streams destroyed once done');
});

it('a stream that fails ends both directions at once, with its error', async () => {
  const channel = heldChannel();
  const member = memberSocket();
  const done = new Promise<PipeResult>((resolve) => pipeStreams(channel.stream, member, resolve));
  member.push(Buffer.from('partial'));
  member.destroy(new Error('connection reset'));
  const result = await done;
  assert.equal(result.error, 'connection reset');
  assert.ok(channel.stream.destroyed && member.destroyed, 'both streams destroyed');
});

it('aborting destroys both streams and reports once', async () => {
  const channel = heldChannel();
  const member = memberSocket();
  const results: PipeResult[] = [];
  const abort = pipeStreams(channel.stream, member, (r) => results.push(r));
  abort();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(results.length, 1);
  assert.equal(results[0]!.error, 'aborted');
  assert.ok(channel.stream.destroyed && member.destroyed);
});

it('bytes from a to b go through the transform; its failure ends both directions with its error', async () => {
  const channel = heldChannel();
  channel.release();
  const seen: Buffer[] = [];
  const member = new Duplex({ read() {}, write(chunk: Buffer, _encoding, callback) { seen.push(chunk); callback(); } });
  const upper = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (chunk.includes('bad')) return callback(new Error('refused by the transform'));
      callback(null, Buffer.from(chunk.toString().toUpperCase()));
    },
  });
  const done = new Promise<PipeResult>((resolve) => pipeStreams(channel.stream, member, resolve, upper));
  channel.stream.push(Buffer.from('first'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(Buffer.concat(seen).toString(), 'FIRST');
  channel.stream.push(Buffer.from('bad'));
  const result = await done;
  assert.equal(result.error, 'refused by the transform');
  assert.equal(Buffer.concat(seen).toString(), 'FIRST', 'nothing after the failure reached b');
  assert.ok(channel.stream.destroyed && member.destroyed && upper.destroyed, 'all three destroyed');
});
