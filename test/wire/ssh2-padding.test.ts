/**
 * The ssh2 patch takes each packet's random padding from a pool of CSPRNG output
 * (docs/ssh2-patch.md): every packet still gets padding of its own, across refills of the
 * pool, and the padding is not constant.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { it } from 'node:test';

interface PacketCipher {
  allocPacket(payloadLength: number): Buffer;
}
const require = createRequire(import.meta.url);
const { NullCipher } = require('ssh2/lib/protocol/crypto.js') as { NullCipher: new (seqno: number, onWrite: (packet: Buffer) => void) => PacketCipher };

it('each packet gets padding of its own, across refills of the pool', () => {
  const cipher = new NullCipher(0, () => {});
  const PAYLOAD = 10; // 4 + 1 + 10 = 15 bytes → 9 bytes of padding
  const paddings = new Set<string>();
  const bytes = new Set<number>();
  const PACKETS = 3_000; // 27,000 bytes of padding: the 8 KiB pool is refilled three times
  for (let i = 0; i < PACKETS; i++) {
    const packet = cipher.allocPacket(PAYLOAD);
    const padLength = packet[4]!;
    assert.equal(padLength, 9);
    const padding = packet.subarray(5 + PAYLOAD, 5 + PAYLOAD + padLength);
    paddings.add(padding.toString('hex'));
    for (const b of padding) bytes.add(b);
  }
  assert.equal(paddings.size, PACKETS, 'two packets had the same padding');
  assert.ok(bytes.size > 200, `padding bytes look random: ${bytes.size} distinct values`);
});
