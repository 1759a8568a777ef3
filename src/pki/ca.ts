import { webcrypto } from 'node:crypto';
import { checkCaPem, type CaKeyKind, type CaPem } from './ca-pem.js';
import { x509 } from './x509.js';

/** The signature algorithm a CA signs with, as webcrypto parameters. */
export type SigningAlgorithm =
  | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' }
  | { name: 'ECDSA'; hash: 'SHA-256' | 'SHA-384' | 'SHA-512' };

/** A CA ready to sign: parsed certificate and a non-extractable webcrypto key. */
export interface CertificateAuthority {
  /** The CA certificate as PEM, for chaining (kubeconfig CA data, TLS `ca`). */
  readonly certPem: string;
  readonly cert: x509.X509Certificate;
  readonly signingKey: webcrypto.CryptoKey;
  readonly signingAlgorithm: SigningAlgorithm;
  readonly key: CaKeyKind;
}

function algorithms(key: CaKeyKind): { importParams: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; signing: SigningAlgorithm } {
  if (key.kind === 'rsa') {
    const signing = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
    return { importParams: signing, signing };
  }
  // Hash strength follows the curve: P-256/SHA-256, P-384/SHA-384, P-521/SHA-512.
  const hash = key.namedCurve === 'P-256' ? 'SHA-256' : key.namedCurve === 'P-384' ? 'SHA-384' : 'SHA-512';
  return { importParams: { name: 'ECDSA', namedCurve: key.namedCurve }, signing: { name: 'ECDSA', hash } };
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/**
 * Check a CA's PEM (see `checkCaPem`) and import its key into webcrypto for
 * signing. Throws a one-line `PkiError` on bad input.
 */
export async function importCa(pem: CaPem): Promise<CertificateAuthority> {
  const checked = checkCaPem(pem);
  const { importParams, signing } = algorithms(checked.key);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', pemBody(checked.keyPem), importParams, false, ['sign']);
  return {
    certPem: checked.certPem,
    cert: new x509.X509Certificate(checked.certPem),
    signingKey,
    signingAlgorithm: signing,
    key: checked.key,
  };
}
