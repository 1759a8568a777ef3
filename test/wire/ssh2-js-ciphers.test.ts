/**
 * ssh2's JavaScript ciphers (used when its native binding is not built for the running
 * Node) take their keys as KeyObjects made once (docs/ssh2-patch.md). Whatever the key's
 * form, the bytes must be SSH's: packets sealed by the JavaScript cipher open with the
 * binding's decipher and the JavaScript one, and the other way round, for each cipher and
 * MAC the peers negotiate, across many packets (sequence numbers, GCM's counter).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { before, it } from 'node:test';

interface Info {
  readonly keyLen: number;
  readonly ivLen: number;
  readonly len: number;
}
interface Cipher {
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Buffer): void;
}
interface Decipher {
  decrypt(data: Buffer, p: number, dataLen: number): unknown;
}
interface Crypto {
  readonly CIPHER_INFO: Record<string, Info>;
  readonly MAC_INFO: Record<string, Info>;
  readonly bindingAvailable: boolean;
  readonly init: Promise<void>;
  createCipher(config: object): Cipher;
  createDecipher(config: object): Decipher;
}
const require = createRequire(import.meta.url);
const crypto = require('ssh2/lib/protocol/crypto.js') as Crypto;

const SUITES: ReadonlyArray<{ cipher: string; mac?: string }> = [
  { cipher: 'aes128-gcm@openssh.com' },
  { cipher: 'aes256-gcm@openssh.com' },
  { cipher: 'chacha20-poly1305@openssh.com' },
  { cipher: 'aes128-ctr', mac: 'hmac-sha2-256' },
  { cipher: 'aes256-ctr', mac: 'hmac-sha2-512-etm@openssh.com' },
];
/** Sizes around block and packet boundaries, a window-sized one, and an empty payload. */
const PAYLOADS = [0, 1, 15, 16, 17, 255, 1024, 32_768, 3, 64].map((n) => randomBytes(n));

before(() => crypto.init);

/** Seal every payload with one cipher and open the stream with one decipher. */
function roundTrip(cipher: string, mac: string | undefined, jsCipher: boolean, jsDecipher: boolean): Buffer[] {
  const cipherInfo = crypto.CIPHER_INFO[cipher]!;
  const macInfo = mac ? crypto.MAC_INFO[mac] : undefined;
  const key = randomBytes(cipherInfo.keyLen);
  const macKey = macInfo ? randomBytes(macInfo.len) : undefined;
  const sealed: Buffer[] = [];
  const out = crypto.createCipher({
    outbound: {
      onWrite: (chunk: Uint8Array) => sealed.push(Buffer.from(chunk)),
      seqno: 7,
      cipherInfo,
      cipherIV: Buffer.alloc(cipherInfo.ivLen, 3),
      cipherKey: key,
      macInfo,
      macKey,
      forceNative: jsCipher,
    },
  });
  for (const payload of PAYLOADS) {
    const packet = out.allocPacket(payload.length);
    payload.copy(packet, 5);
    out.encrypt(packet);
  }
  const opened: Buffer[] = [];
  const into = crypto.createDecipher({
    inbound: {
      onPayload: (payload: Buffer) => void opened.push(Buffer.from(payload)),
      seqno: 7,
      decipherInfo: cipherInfo,
      decipherIV: Buffer.alloc(cipherInfo.ivLen, 3),
      decipherKey: key,
      macInfo,
      macKey,
      forceNative: jsDecipher,
    },
  });
  const stream = Buffer.concat(sealed);
  // In uneven pieces, as a socket delivers them.
  for (let p = 0; p < stream.length; p += 1_000) {
    const piece = stream.subarray(p, Math.min(p + 1_000, stream.length));
    into.decrypt(piece, 0, piece.length);
  }
  return opened;
}

for (const { cipher, mac } of SUITES) {
  const name = mac ? `${cipher} with ${mac}` : cipher;
  it(`${name}: JavaScript cipher ⇄ JavaScript decipher`, () => {
    assert.deepEqual(roundTrip(cipher, mac, true, true), PAYLOADS);
  });
  it(`${name}: JavaScript ⇄ the native binding, both ways`, { skip: !crypto.bindingAvailable && 'the binding is not built for this Node' }, () => {
    assert.deepEqual(roundTrip(cipher, mac, true, false), PAYLOADS);
    assert.deepEqual(roundTrip(cipher, mac, false, true), PAYLOADS);
  });
}
