import { randomBytes } from 'node:crypto';

/** DER bytes → PEM text with the given label, 64-column base64. */
export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A random positive 128-bit certificate serial number, hex. */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  // Clear the top bit (DER INTEGER stays positive) and keep the first byte non-zero.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}
