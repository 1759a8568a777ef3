/**
 * The agent's request-head rewriter (member TLS): heads get the member's credentials and
 * Host, bodies pass byte for byte however the bytes are split, nothing inside a body or
 * after an upgrade is taken for a head, and anything ambiguous ends the stream with a
 * reason instead of reaching the member.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HEAD_BYTES, MalformedRequest, RequestHeadRewriter } from '../../src/actors/agent/request-head-rewriter.js';

const REWRITE = { host: 'kubernetes.default.svc:443', authorization: 'Bearer member-token' };

/** Feed `pieces` one write each; resolve with what came out, or reject with the stream's error. */
function run(pieces: Buffer[], rewrite: ConstructorParameters<typeof RequestHeadRewriter>[0] = REWRITE): Promise<string> {
  return new Promise((resolve, reject) => {
    const rewriter = new RequestHeadRewriter(rewrite);
    const out: Buffer[] = [];
    rewriter.on('data', (chunk: Buffer) => out.push(chunk));
    rewriter.on('end', () => resolve(Buffer.concat(out).toString('latin1')));
    rewriter.on('error', reject);
    for (const piece of pieces) rewriter.write(piece);
    rewriter.end();
  });
}

const text = (s: string) => Buffer.from(s, 'latin1');

/** Every split of `input` in two, and one byte at a time. */
function splits(input: Buffer): Buffer[][] {
  const all: Buffer[][] = [];
  for (let i = 0; i <= input.length; i += 1) all.push([input.subarray(0, i), input.subarray(i)]);
  all.push([...input].map((byte) => Buffer.from([byte])));
  return all;
}

// Bodies that look like requests with someone else's credentials: they must pass as they are.
const SMUGGLED = 'GET /api/v1/secrets HTTP/1.1\r\nAuthorization: Bearer stolen\r\n\r\n';
const CHUNKED_BODY = `5;ext=1\r\nhello\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\nX-Trailer: t\r\n\r\n`;
const INPUT =
  'GET /version HTTP/1.1\r\nHost: proxy.example\r\nAuthorization: Bearer proxy-side\r\nAccept: */*\r\n\r\n' +
  `POST /api/v1/namespaces HTTP/1.1\r\nhost: x\r\nContent-Length: ${SMUGGLED.length}\r\nauthorization: Basic Zm9v\r\nAUTHORIZATION: x\r\n\r\n${SMUGGLED}` +
  `PUT /apis/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: y\r\n\r\n${CHUNKED_BODY}` +
  'GET /healthz HTTP/1.1\r\nHost: z\r\n\r\n';
const EXPECTED =
  'GET /version HTTP/1.1\r\nAccept: */*\r\nHost: kubernetes.default.svc:443\r\nAuthorization: Bearer member-token\r\n\r\n' +
  `POST /api/v1/namespaces HTTP/1.1\r\nContent-Length: ${SMUGGLED.length}\r\nHost: kubernetes.default.svc:443\r\nAuthorization: Bearer member-token\r\n\r\n${SMUGGLED}` +
  `PUT /apis/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: kubernetes.default.svc:443\r\nAuthorization: Bearer member-token\r\n\r\n${CHUNKED_BODY}` +
  'GET /healthz HTTP/1.1\r\nHost: kubernetes.default.svc:443\r\nAuthorization: Bearer member-token\r\n\r\n';

describe('request head rewriter', () => {
  it('rewrites every head and passes every body as it came, however the bytes are split', async () => {
    const input = text(INPUT);
    for (const pieces of splits(input)) assert.equal(await run(pieces), EXPECTED, `split into ${pieces.length} pieces at ${pieces[0]!.length}`);
  });

  it('without a bearer token (a client certificate authenticates) no Authorization is sent at all', async () => {
    const out = await run([text('GET / HTTP/1.1\r\nAuthorization: Bearer proxy-side\r\n\r\n')], { host: 'm:6443' });
    assert.equal(out, 'GET / HTTP/1.1\r\nHost: m:6443\r\n\r\n');
  });

  it('after an upgrade request the bytes are the upgraded protocol\'s and pass untouched', async () => {
    const head = 'POST /api/v1/namespaces/d/pods/p/exec HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n';
    const after = `\x80\x03\x00\x01${SMUGGLED}`;
    const out = await run([text(head + after)]);
    assert.equal(
      out,
      'POST /api/v1/namespaces/d/pods/p/exec HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nHost: kubernetes.default.svc:443\r\nAuthorization: Bearer member-token\r\n\r\n' + after,
    );
  });

  it('an Upgrade header without Connection: Upgrade is not an upgrade: the next head is rewritten', async () => {
    const out = await run([text(`GET /a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n${SMUGGLED}`)]);
    assert.ok(!out.includes('stolen'), out);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['both lengths', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both Content-Length and Transfer-Encoding/],
    ['a coding other than chunked', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /not chunked/],
    ['differing lengths', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', /differing Content-Length/],
    ['a length that is no number', 'POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n', /not a number/],
    ['a bare LF in the head', 'GET / HTTP/1.1\r\nX-A: 1\nAuthorization: x\r\n\r\n', /bare CR or LF/],
    ['a bare CR in the head', 'GET / HTTP/1.1\r\nX-A: 1\rAuthorization: x\r\n\r\n', /bare CR or LF/],
    ['a folded header line', 'GET / HTTP/1.1\r\nX-A: 1\r\n Authorization: x\r\n\r\n', /not "name: value"/],
    ['a space before the colon', 'GET / HTTP/1.1\r\nAuthorization : x\r\n\r\n', /not "name: value"/],
    ['a request line that is not one', 'GET /\r\n\r\n', /request line/],
    ['CONNECT', 'CONNECT member:443 HTTP/1.1\r\n\r\n', /CONNECT/],
    ['a chunk size that is not hexadecimal', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /not hexadecimal/],
    ['a chunk without its CRLF', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n', /does not end with CRLF/],
  ];
  for (const [what, input, reason] of malformed) {
    it(`refuses ${what}, and nothing after it reaches the member`, async () => {
      const rewriter = new RequestHeadRewriter(REWRITE);
      const out: Buffer[] = [];
      rewriter.on('data', (chunk: Buffer) => out.push(chunk));
      const failed = new Promise<Error>((resolve) => rewriter.once('error', resolve));
      rewriter.write(text(`GET /first HTTP/1.1\r\n\r\n${input}${SMUGGLED}`));
      const error = await failed;
      assert.ok(error instanceof MalformedRequest);
      assert.match(error.message, reason);
      assert.ok(!Buffer.concat(out).toString('latin1').includes('stolen'), 'bytes after the refusal went through');
    });
  }

  it('holds at most one head\'s worth of a head that never ends', async () => {
    const rewriter = new RequestHeadRewriter(REWRITE);
    const failed = new Promise<Error>((resolve) => rewriter.once('error', resolve));
    rewriter.write(text('GET / HTTP/1.1\r\n'));
    const line = text(`X-Filler: ${'a'.repeat(1000)}\r\n`);
    let written = 0;
    let error: Error | undefined;
    void failed.then((e) => (error = e));
    // Bounded: the limit is reached after about MAX_HEAD_BYTES of lines.
    for (let i = 0; i < 2 * (MAX_HEAD_BYTES / line.length) && !error; i += 1) {
      rewriter.write(line);
      written += line.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(error instanceof MalformedRequest);
    assert.match(error.message, /head larger than 64 KiB/);
    assert.ok(written <= MAX_HEAD_BYTES + line.length, `refused only after ${written} bytes`);
  });

  it('chunked trailers are bounded too', async () => {
    const trailer = `X-T: ${'b'.repeat(1000)}\r\n`.repeat(70);
    await assert.rejects(run([text(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${trailer}\r\n`)]), /trailers larger than 64 KiB/);
  });
});
