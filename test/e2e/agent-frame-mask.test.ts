/**
 * The agent masks its WebSocket frames with an all-zero key (docs/protocol.md, "WebSocket
 * framing"): every frame is marked masked, as RFC 6455 requires of a client, but the bytes
 * go out as they are — no copy and no XOR pass per byte on either end. What it sends is
 * SSH, ciphertext once the keys are exchanged, so the key's randomness protects nothing
 * here. A proxy that reads the real bin/agent's first frame sees the SSH identification
 * line in clear under a zero key.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { SUBPROTOCOL } from '../../src/protocol/constants.js';
import { BinProcess } from '../helpers/bin-process.js';

const ENV = { ...process.env, KUBERNETES_SERVICE_HOST: '', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' };
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

interface FirstFrame {
  readonly masked: boolean;
  readonly key: Buffer;
  readonly payload: Buffer;
}

/** Parse one WebSocket frame header and as much payload as `data` holds, or undefined while it is incomplete. */
function parseFrame(data: Buffer): FirstFrame | undefined {
  if (data.length < 2) return undefined;
  const masked = (data[1]! & 0x80) !== 0;
  let length = data[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.length < 4) return undefined;
    length = data.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (data.length < 10) return undefined;
    length = Number(data.readBigUInt64BE(2));
    offset = 10;
  }
  const keyLength = masked ? 4 : 0;
  if (data.length < offset + keyLength + Math.min(length, 8)) return undefined;
  return { masked, key: data.subarray(offset, offset + keyLength), payload: data.subarray(offset + keyLength, offset + keyLength + length) };
}

describe('the agent’s WebSocket frames', { timeout: 60_000 }, () => {
  let dir: string;
  let member: DevCluster;
  let kubeconfig: string;
  const cleanups: Array<() => Promise<unknown> | void> = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-frame-mask-'));
    member = await startDevCluster({ name: 'member' });
    kubeconfig = await member.writeKubeconfig(join(dir, 'member.kubeconfig'));
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await member?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('are marked masked, with an all-zero key: the SSH identification line is readable as sent', async () => {
    const sockets = new Set<Duplex>();
    const server = createServer((_req, res) => res.writeHead(404).end());
    const first = new Promise<FirstFrame>((resolve) => {
      server.on('upgrade', (req, socket: Duplex) => {
        sockets.add(socket);
        socket.on('error', () => {});
        const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WEBSOCKET_GUID}`).digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\n\r\n`,
        );
        let received = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          const frame = parseFrame(received);
          if (frame) resolve(frame);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        }),
    );
    const agent = new BinProcess(
      process.execPath,
      [
        join(PACKAGE_ROOT, 'bin', 'agent'),
        '--name',
        'alpha',
        '--token',
        'frame-mask-token-0123456789',
        '--kubeconfig',
        kubeconfig,
        '--proxy-server',
        `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      ],
      { env: ENV },
    );
    cleanups.push(() => agent.stop());
    const frame = await first;
    assert.equal(frame.masked, true, 'a client frame must be marked masked');
    assert.deepEqual([...frame.key], [0, 0, 0, 0]);
    assert.match(frame.payload.toString('latin1'), /^SSH-kubesphere-v1-client/);
  });
});
