/**
 * The two extensions that say whether a certificate may be a CA — basicConstraints (cA)
 * and keyUsage (keyCertSign) — read from its DER. node:crypto says whether OpenSSL accepts
 * a certificate as a CA (`X509Certificate.ca`) but not why not; this reads just enough
 * DER to say which extension is missing, without loading an X.509 library (~17 MB of RSS)
 * into the proxy's main thread, which checks the CA once at start.
 */

/** What the two extensions say; absent when the certificate does not carry one. */
export interface CaExtensions {
  readonly basicConstraints?: { readonly ca: boolean };
  readonly keyUsage?: { readonly keyCertSign: boolean };
}

interface Tlv {
  readonly tag: number;
  /** Content: start and end offsets into the input. */
  readonly start: number;
  readonly end: number;
}

const SEQUENCE = 0x30;
const BOOLEAN = 0x01;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;
/** tbsCertificate's `extensions [3] EXPLICIT`. */
const EXTENSIONS = 0xa3;
const BASIC_CONSTRAINTS = '551d13'; // 2.5.29.19
const KEY_USAGE = '551d0f'; // 2.5.29.15
/** keyCertSign is bit 5 of KeyUsage, counted from the first byte's most significant bit. */
const KEY_CERT_SIGN = 0x80 >> 5;

/** Read the CA extensions of a DER certificate; throws on DER it cannot follow. */
export function caExtensions(der: Uint8Array): CaExtensions {
  const certificate = readTlv(der, 0, der.length, SEQUENCE);
  const tbs = readTlv(der, certificate.start, certificate.end, SEQUENCE);
  const extensions = children(der, tbs).find((field) => field.tag === EXTENSIONS);
  if (!extensions) return {};
  const list = readTlv(der, extensions.start, extensions.end, SEQUENCE);
  let result: CaExtensions = {};
  for (const extension of children(der, list)) {
    if (extension.tag !== SEQUENCE) throw new Error('an extension is not a SEQUENCE');
    const [id, ...rest] = children(der, extension);
    const value = rest[rest.length - 1];
    if (!id || id.tag !== OID || !value || value.tag !== OCTET_STRING) throw new Error('an extension has no id or value');
    const oid = Buffer.from(der.subarray(id.start, id.end)).toString('hex');
    if (oid === BASIC_CONSTRAINTS) {
      const constraints = readTlv(der, value.start, value.end, SEQUENCE);
      const [first] = children(der, constraints);
      const ca = first?.tag === BOOLEAN && first.end > first.start && der[first.start] !== 0;
      result = { ...result, basicConstraints: { ca } };
    } else if (oid === KEY_USAGE) {
      const bits = readTlv(der, value.start, value.end, BIT_STRING);
      // The first content byte counts the unused bits; the flags follow.
      const flags = bits.end - bits.start > 1 ? der[bits.start + 1]! : 0;
      result = { ...result, keyUsage: { keyCertSign: (flags & KEY_CERT_SIGN) !== 0 } };
    }
  }
  return result;
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const list: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    list.push(child);
    at = child.end;
  }
  return list;
}

/** One tag-length-value at `at`, within `limit`; definite lengths only, as DER has. */
function readTlv(der: Uint8Array, at: number, limit: number, expectedTag?: number): Tlv {
  if (at + 2 > limit) throw new Error('DER ends early');
  const tag = der[at]!;
  if (expectedTag !== undefined && tag !== expectedTag) throw new Error(`DER tag ${tag.toString(16)} where ${expectedTag.toString(16)} was expected`);
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > limit) throw new Error('DER length not supported');
    length = 0;
    for (let i = 0; i < octets; i += 1) length = length * 256 + der[start + i]!;
    start += octets;
  }
  const end = start + length;
  if (end > limit) throw new Error('DER length runs past its container');
  return { tag, start, end };
}
