import { webcrypto } from 'node:crypto';
import type { CertificateAuthority } from './ca.js';
import { clusterBindingUri } from './cluster-binding.js';
import { randomSerialNumber, toPem } from './der.js';
import { servingCertSans } from './hosts.js';
import { DEFAULT_LEAF_VALIDITY_DAYS, validityWindow } from './validity.js';
import { x509 } from './x509.js';
import type { ClientCertRequest } from './admin-client.js';

/** What a per-cluster HTTPS serving certificate is for. */
export interface ServingCertRequest {
  /** Extra hosts (DNS names or IPs) beside kubernetes, kubernetes.default, kubernetes.default.svc. */
  hosts: readonly string[];
  /** Subject CN; default `kubernetes`. */
  commonName?: string;
  /** Default 365. Never past the CA's own expiry. */
  validityDays?: number;
  /** Issue time; default now. */
  now?: Date;
}

export type { ClientCertRequest };

/** An issued certificate as PEM, with its fresh key (PKCS#8) and the CA that signed it. */
export interface IssuedCert {
  certPem: string;
  keyPem: string;
  /** The issuing CA's certificate, for chaining. */
  caPem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}

export { ADMIN_CLIENT, adminClientFor } from './admin-client.js';

const LEAF_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

interface LeafSpec {
  subject: x509.JsonName;
  extensions: x509.Extension[];
  validityDays: number | undefined;
  now: Date | undefined;
}

/** The AKI must equal the CA's own SKI when it has one (tools compute it differently). */
async function authorityKeyId(ca: CertificateAuthority): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey);
}

async function issueLeaf(ca: CertificateAuthority, spec: LeafSpec): Promise<IssuedCert> {
  const keys = (await webcrypto.subtle.generateKey(LEAF_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const publicKey = keys.publicKey as CryptoKey;
  const { notBefore, notAfter } = validityWindow(spec.now ?? new Date(), spec.validityDays ?? DEFAULT_LEAF_VALIDITY_DAYS, ca.cert.notAfter);
  const serialNumber = randomSerialNumber();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: spec.subject,
    // The CA's subject as parsed, so the issuer bytes match it for chain building.
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey,
    signingKey: ca.signingKey as CryptoKey,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...spec.extensions,
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await authorityKeyId(ca),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: toPem(pkcs8, 'PRIVATE KEY'),
    caPem: ca.certPem,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialNumber,
  };
}

/**
 * Issue a per-cluster HTTPS serving certificate: a fresh ECDSA P-256 key,
 * SANs kubernetes, kubernetes.default, kubernetes.default.svc plus
 * `req.hosts` (each as IP or DNS), serverAuth, backdated 5 minutes.
 * Throws on a malformed host.
 */
export async function issueServingCert(ca: CertificateAuthority, req: ServingCertRequest): Promise<IssuedCert> {
  const sans = servingCertSans(req.hosts);
  return issueLeaf(ca, {
    subject: [{ CN: [req.commonName ?? 'kubernetes'] }],
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans.map((s) => ({ type: s.type, value: s.value }))),
    ],
    validityDays: req.validityDays,
    now: req.now,
  });
}

/**
 * Issue a client certificate: a fresh ECDSA P-256 key, subject O=… (each of
 * `organizations`, which Kubernetes reads as groups) and CN=`commonName`
 * (the user name), clientAuth; with `cluster`, the SAN URI that binds it to that
 * cluster. Throws on an empty name or an invalid cluster name.
 */
export async function issueClientCert(ca: CertificateAuthority, req: ClientCertRequest): Promise<IssuedCert> {
  if (req.commonName.length === 0) throw new Error('a client certificate needs a non-empty commonName');
  const subject: x509.JsonName = [...(req.organizations ?? []).map((o) => ({ O: [o] })), { CN: [req.commonName] }];
  const binding =
    req.cluster === undefined ? [] : [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: clusterBindingUri(req.cluster) }])];
  return issueLeaf(ca, {
    subject,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      ...binding,
    ],
    validityDays: req.validityDays,
    now: req.now,
  });
}
