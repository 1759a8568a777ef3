import { webcrypto } from 'node:crypto';
import type { CaPem } from './ca-pem.js';
import { randomSerialNumber, toPem } from './der.js';
import { validityWindow } from './validity.js';
import { x509 } from './x509.js';

/** Key types a fresh CA can have. */
export type CaKeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048';

/** Options for `createSelfSignedCa`. */
export interface SelfSignedCaOptions {
  /** Subject CN; default `tower-ca`. */
  commonName?: string;
  /** Default `ec-p256`. RSA keygen takes ~100+ ms. */
  keyType?: CaKeyType;
  /** Default 3650 days. */
  validityDays?: number;
  /** Issue time; default now. Backdated by 5 minutes for clock skew. */
  now?: Date;
}


function keyAlgorithm(keyType: CaKeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  switch (keyType) {
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ec-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    case 'rsa-2048':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  }
}

/**
 * Create a fresh self-signed CA (for tests, demos and dev setups). Returns PEM:
 * the certificate and its key as PKCS#8.
 */
export async function createSelfSignedCa(opts: SelfSignedCaOptions = {}): Promise<CaPem> {
  const keyType = opts.keyType ?? 'ec-p256';
  const alg = keyAlgorithm(keyType);
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = opts.now ?? new Date();
  const hash = keyType === 'ec-p384' ? 'SHA-384' : 'SHA-256';
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [opts.commonName ?? 'tower-ca'] }],
    ...validityWindow(now, opts.validityDays ?? 3650),
    keys: keys as CryptoKeyPair,
    signingAlgorithm: { ...alg, hash },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: toPem(pkcs8, 'PRIVATE KEY') };
}
