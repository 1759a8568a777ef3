import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { caExtensions, type CaExtensions } from './ca-extensions.js';
import { PkiError } from './errors.js';

/** A CA as PEM text: its certificate and its private key. */
export interface CaPem {
  certPem: string;
  keyPem: string;
}

/** Where a CA came from, used only to name it in error messages. */
export interface CaSource {
  /** e.g. `CA certificate file "/etc/tower/ca.crt" (--ca-cert)` */
  certLabel: string;
  /** e.g. `CA key file "/etc/tower/ca.key" (--ca-key)` */
  keyLabel: string;
}

/** The kind of a CA key, which decides the signature algorithm. */
export type CaKeyKind =
  | { kind: 'rsa'; modulusLength: number }
  | { kind: 'ec'; namedCurve: 'P-256' | 'P-384' | 'P-521' };

/** A CA whose PEM text has been checked: normalized PEM plus what its key is. */
export interface CheckedCaPem extends CaPem {
  /** The key, re-encoded as PKCS#8 PEM whatever form it came in. */
  keyPem: string;
  /** The first certificate of the cert PEM (the signing CA). */
  certPem: string;
  key: CaKeyKind;
}

const DEFAULT_SOURCE: CaSource = { certLabel: 'CA certificate', keyLabel: 'CA key' };

const CURVES: Record<string, 'P-256' | 'P-384' | 'P-521'> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

function pemBlocks(text: string): { label: string; pem: string }[] {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
  return [...text.matchAll(re)].map((m) => ({ label: m[1] ?? '', pem: m[0] }));
}

function parseCert(text: string, label: string): X509Certificate {
  const blocks = pemBlocks(text);
  const certBlock = blocks.find((b) => b.label === 'CERTIFICATE');
  if (!certBlock) {
    if (blocks.some((b) => b.label.endsWith('PRIVATE KEY'))) {
      throw new PkiError(`${label}: holds a private key, not a certificate; did you swap --ca-cert and --ca-key?`);
    }
    throw new PkiError(
      `${label}: no PEM certificate found (no "BEGIN CERTIFICATE" block); give the CA certificate in PEM form ` +
        `(from DER: openssl x509 -inform DER -in FILE -out FILE.pem)`,
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certBlock.pem);
  } catch {
    throw new PkiError(`${label}: the "BEGIN CERTIFICATE" block is not a valid X.509 certificate; replace the file with the CA certificate`);
  }
  let extensions: CaExtensions;
  try {
    extensions = caExtensions(cert.raw);
  } catch {
    throw new PkiError(`${label}: the certificate's extensions cannot be read; replace the file with the CA certificate`);
  }
  const subject = cert.subject.replace(/\n/g, ', ');
  const constraints = extensions.basicConstraints;
  // No basicConstraints at all: accept what OpenSSL accepts (a self-signed v1 root).
  if (constraints ? !constraints.ca : !cert.ca) {
    throw new PkiError(`${label}: certificate "${subject}" is not a CA (basicConstraints CA:TRUE missing); give the CA's own certificate, not a leaf`);
  }
  const keyUsage = extensions.keyUsage;
  if (keyUsage && !keyUsage.keyCertSign) {
    throw new PkiError(`${label}: the certificate's keyUsage lacks keyCertSign, so it may not sign certificates; use a CA certificate that allows certificate signing`);
  }
  if (!cert.ca) {
    // OpenSSL's own CA check (X509_check_ca) has the last word.
    throw new PkiError(`${label}: certificate "${subject}" is not usable as a CA; give a CA certificate (basicConstraints CA:TRUE, keyUsage keyCertSign)`);
  }
  if (Date.parse(cert.validTo) < Date.now()) {
    throw new PkiError(`${label}: the CA certificate expired on ${new Date(cert.validTo).toISOString()}; renew the CA`);
  }
  return cert;
}

function parseKey(text: string, label: string): KeyObject {
  const blocks = pemBlocks(text);
  if (blocks.some((b) => b.label === 'ENCRYPTED PRIVATE KEY') || /Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    throw new PkiError(`${label}: the private key is encrypted; give an unencrypted key (openssl pkey -in FILE -out PLAIN.key)`);
  }
  const keyBlock = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!keyBlock) {
    if (blocks.some((b) => b.label === 'CERTIFICATE')) {
      throw new PkiError(`${label}: holds a certificate, not a private key; did you swap --ca-cert and --ca-key?`);
    }
    if (blocks.some((b) => b.label === 'PUBLIC KEY' || b.label === 'RSA PUBLIC KEY')) {
      throw new PkiError(`${label}: holds a public key; give the CA's private key`);
    }
    throw new PkiError(
      `${label}: no PEM private key found; expected "BEGIN RSA PRIVATE KEY" (PKCS#1), "BEGIN PRIVATE KEY" (PKCS#8) or "BEGIN EC PRIVATE KEY" (SEC1)`,
    );
  }
  try {
    // Only the key block: `openssl ecparam -genkey` puts an EC PARAMETERS block first.
    return createPrivateKey(keyBlock.pem);
  } catch {
    throw new PkiError(`${label}: the "BEGIN ${keyBlock.label}" block cannot be parsed as a private key; replace the file with the CA's private key in PEM form`);
  }
}

function keyKind(key: KeyObject, label: string): CaKeyKind {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    return { kind: 'rsa', modulusLength: details.modulusLength ?? 0 };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    if (curve) return { kind: 'ec', namedCurve: curve };
    throw new PkiError(`${label}: EC curve ${details.namedCurve ?? 'unknown'} is not supported; use P-256, P-384 or P-521`);
  }
  throw new PkiError(`${label}: key type ${key.asymmetricKeyType ?? 'unknown'} is not supported; use an RSA or ECDSA key`);
}

/**
 * Check a CA given as PEM text: the certificate is a valid, unexpired CA
 * that may sign certificates; the key is RSA or ECDSA (PKCS#1, PKCS#8 or
 * SEC1 PEM) and belongs to the certificate. Returns normalized PEM (key as
 * PKCS#8). Throws a one-line `PkiError` naming the source otherwise.
 */
export function checkCaPem(pem: CaPem, source: CaSource = DEFAULT_SOURCE): CheckedCaPem {
  const cert = parseCert(pem.certPem, source.certLabel);
  const key = parseKey(pem.keyPem, source.keyLabel);
  const kind = keyKind(key, source.keyLabel);
  let matches = false;
  try {
    matches = cert.checkPrivateKey(key);
  } catch {
    // e.g. an EC key against an RSA certificate: not a match either.
  }
  if (!matches) {
    throw new PkiError(`${source.keyLabel}: the key does not match the public key of ${source.certLabel}; give the key that belongs to that certificate`);
  }
  return {
    certPem: cert.toString(),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    key: kind,
  };
}
