/**
 * A client that stops reading holds the member back: the proxy reads from the tunnel only
 * as fast as the client takes the response, so what waits in between is bounded by the
 * buffers and windows on the way, never by the size of the response. Once the client
 * reads again, every byte arrives.
 */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { tunnelToKsServer, type KsServerTunnel } from '../helpers/ks-server-tunnel.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const TOTAL = 192 * 1024 * 1024;

describe('a client that stops reading a large response', () => {
  let ks: KsServerTunnel | undefined;
  let written = 0;
  // Streams TOTAL bytes, writing only when its socket takes more.
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': TOTAL });
    const more = () => {
      while (written < TOTAL) {
        written += CHUNK.length;
        if (!res.write(CHUNK)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });

  before(async () => {
    ks = await tunnelToKsServer(server);
  });
  after(async () => {
    await ks?.close();
  });

  /** Resolves once `written` has not moved for `quietChecks` checks in a row (bounded). */
  const stalled = async (quietChecks = 4) => {
    let last = -1;
    let quiet = 0;
    for (let i = 0; i < 150 && quiet < quietChecks; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      quiet = written === last ? quiet + 1 : 0;
      last = written;
    }
    assert.ok(quiet >= quietChecks, `the member kept writing (${written} bytes) while the client read nothing`);
  };

  it('holds the member back, then delivers every byte', async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: ks!.tunnel.kubespherePort, path: '/kapis/big', agent: false }, resolve);
      req.on('error', reject);
      req.end();
    });
    res.pause();
    await stalled();
    assert.ok(written < TOTAL / 2, `the member wrote ${written} of ${TOTAL} bytes to a client that read none`);
    let received = 0;
    res.on('data', (chunk: Buffer) => (received += chunk.length));
    await new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
    assert.equal(received, TOTAL);
  });
});
