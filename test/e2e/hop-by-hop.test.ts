/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) stop at the proxy in both directions: the fixed
 * ones, and those a Connection header names — whether it names them alone or beside
 * `keep-alive` or `close`, which the proxy reads without building a set.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { tunnelToKsServer, type KsServerTunnel } from '../helpers/ks-server-tunnel.js';
import type { TunnelFixture } from '../helpers/tunnel-fixture.js';

describe('hop-by-hop headers through the tunnel', () => {
  let ks: KsServerTunnel | undefined;
  let t: TunnelFixture;
  let seen: IncomingHttpHeaders = {};
  // Answers with the response's own Connection header taken from the request's x-answer-connection.
  const server = createServer((req, res) => {
    seen = req.headers;
    req.resume();
    const connection = String(req.headers['x-answer-connection'] ?? 'keep-alive');
    res.writeHead(200, { connection, 'x-answer-hop': 'hop', 'x-answer-end': 'end', 'content-type': 'text/plain' }).end('ok\n');
  });

  before(async () => {
    ks = await tunnelToKsServer(server);
    t = ks.tunnel;
  });
  after(async () => {
    await ks?.close();
  });

  const cases: Array<{ connection: string; answer: string; hopsDropped: boolean }> = [
    { connection: 'keep-alive', answer: 'keep-alive', hopsDropped: false },
    { connection: 'close', answer: 'close', hopsDropped: false },
    { connection: 'keep-alive, X-Hop', answer: 'keep-alive, x-answer-hop', hopsDropped: true },
    { connection: 'X-Hop', answer: 'x-answer-hop', hopsDropped: true },
  ];
  for (const { connection, answer, hopsDropped } of cases) {
    it(`Connection: ${connection} (answered with Connection: ${answer})`, async () => {
      const res = await t.get(false, t.kubespherePort, '/kapis/echo', {
        headers: { connection, 'x-hop': 'hop', 'x-end': 'end', 'keep-alive': 'timeout=5', 'x-answer-connection': answer },
      });
      assert.equal(res.status, 200);
      // Toward the member: the fixed hop-by-hop headers never pass, listed ones only when listed.
      assert.equal(seen['x-end'], 'end');
      assert.equal(seen['keep-alive'], undefined);
      assert.equal(seen['x-hop'], hopsDropped ? undefined : 'hop');
      // Toward the client: the same for the member's answer.
      assert.equal(res.headers['x-answer-end'], 'end');
      assert.equal(res.headers['x-answer-hop'], hopsDropped ? undefined : 'hop');
    });
  }
});
