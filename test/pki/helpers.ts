import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSelfSignedCa, type CaKeyType } from '../../src/pki/ca-create.js';
import type { CaPem } from '../../src/pki/ca-pem.js';

/** PEM encodings a CA key file may use. */
export type KeyFormat = 'pkcs1' | 'pkcs8' | 'sec1';

/** Re-encode a PKCS#8 PEM key as `format`. */
export function reencodeKey(pkcs8Pem: string, format: KeyFormat): string {
  return createPrivateKey(pkcs8Pem).export({ type: format, format: 'pem' }).toString();
}

/** A temporary directory, removed by `cleanup`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-pki-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Write a CA's cert and key (key re-encoded as `format`) into `dir`. */
export async function writeCaFiles(
  dir: string,
  ca: CaPem,
  format: KeyFormat,
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  await writeFile(certFile, ca.certPem);
  await writeFile(keyFile, format === 'pkcs8' ? ca.keyPem : reencodeKey(ca.keyPem, format));
  return { certFile, keyFile };
}

/** A fresh CA of the given key type. */
export function freshCa(keyType: CaKeyType = 'ec-p256', commonName = 'tower-test-ca'): Promise<CaPem> {
  return createSelfSignedCa({ keyType, commonName });
}

/** The base64 body of a PEM block, without armor or line breaks. */
export function pemBase64(pem: string): string {
  return pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
}

/** True if `message` contains any 16-character run of the key's base64 body. */
export function leaksKey(message: string, keyPem: string): boolean {
  const body = pemBase64(keyPem);
  const flat = message.replace(/\s+/g, '');
  for (let i = 0; i + 16 <= body.length; i += 8) {
    if (flat.includes(body.slice(i, i + 16))) return true;
  }
  return message.includes("-----BEGIN");
}
