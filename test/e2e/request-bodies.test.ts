/**
 * Request bodies reach the member whole, however the client frames them: a length, chunks,
 * or a length after `Expect: 100-continue` (curl's way for large uploads), which the
 * proxy's own server answers before the request goes on.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { tunnelToKsServer, type KsServerTunnel } from '../helpers/ks-server-tunnel.js';

interface Seen {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly bytes: number;
  readonly sha256: string;
}

describe('request bodies through the tunnel', () => {
  let ks: KsServerTunnel | undefined;
  let seen: Seen[] = [];
  // Answers with the SHA-256 of the body it got.
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => {
      const sha256 = hash.digest('hex');
      seen.push({ method: req.method ?? '', headers: req.headers, bytes, sha256 });
      res.writeHead(201, { 'content-type': 'text/plain' }).end(sha256);
    });
  });

  before(async () => {
    ks = await tunnelToKsServer(server);
  });
  after(async () => {
    await ks?.close();
  });

  /** Sends `body` in `pieces` writes; resolves with the answer and whether a 100 Continue came first. */
  const send = (method: string, body: Buffer, headers: OutgoingHttpHeaders, pieces = 1) =>
    new Promise<{ status: number; text: string; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request({ host: '127.0.0.1', port: ks!.tunnel.kubespherePort, method, path: '/kapis/upload', headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (t: string) => (text += t));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, continued }));
      });
      req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      const write = () => {
        const size = Math.ceil(body.length / pieces);
        for (let at = 0; at < body.length; at += size) req.write(body.subarray(at, at + size));
        req.end();
      };
      if (headers.expect) {
        req.on('continue', () => {
          continued = true;
          write();
        });
      } else write();
    });

  const sha = (body: Buffer) => createHash('sha256').update(body).digest('hex');

  it('a body with a length', async () => {
    seen = [];
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const answer = await send('PUT', body, { 'content-length': body.length, 'content-type': 'application/octet-stream' }, 7);
    assert.deepEqual([answer.status, answer.text], [201, sha(body)]);
    assert.equal(seen[0]?.headers['content-length'], String(body.length));
  });

  it('a chunked body', async () => {
    seen = [];
    const body = randomBytes(1024 * 1024 + 5);
    const answer = await send('POST', body, { 'transfer-encoding': 'chunked' }, 9);
    assert.deepEqual([answer.status, answer.text], [201, sha(body)]);
    assert.equal(seen[0]?.bytes, body.length);
  });

  it('Expect: 100-continue is answered by the proxy, and the body follows', async () => {
    seen = [];
    const body = randomBytes(2 * 1024 * 1024);
    const answer = await send('POST', body, { 'content-length': body.length, expect: '100-continue' }, 3);
    assert.equal(answer.continued, true, 'the client got its 100 Continue');
    assert.deepEqual([answer.status, answer.text], [201, sha(body)]);
    assert.equal(seen[0]?.headers.expect, undefined, 'the proxy answered it: it does not go on');
  });

  it('a POST without a body', async () => {
    seen = [];
    const answer = await send('POST', Buffer.alloc(0), { 'content-length': 0 });
    assert.deepEqual([answer.status, answer.text], [201, sha(Buffer.alloc(0))]);
    assert.equal(seen[0]?.method, 'POST');
  });
});
