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
import { describe, it } from 'node:test';
import { SUBPROTOCOL } from '../../src/protocol/constants.js';
import { binAgentStand, upgradeStandIn } from '../helpers/bin-agent-stand.js';

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
  const stand = binAgentStand('tower-frame-mask-');

  it('are marked masked, with an all-zero key: the SSH identification line is readable as sent', async () => {
    let firstFrame!: (frame: FirstFrame) => void;
    const first = new Promise<FirstFrame>((resolve) => (firstFrame = resolve));
    const proxy = await upgradeStandIn((socket, req) => {
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WEBSOCKET_GUID}`).digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\n\r\n`,
      );
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const frame = parseFrame(received);
        if (frame) firstFrame(frame);
      });
    });
    stand.cleanup(proxy.close);
    stand.startAgent(proxy.port, 'frame-mask-token-0123456789');
    const frame = await first;
    assert.equal(frame.masked, true, 'a client frame must be marked masked');
    assert.deepEqual([...frame.key], [0, 0, 0, 0]);
    assert.match(frame.payload.toString('latin1'), /^SSH-kubesphere-v1-client/);
  });
});
