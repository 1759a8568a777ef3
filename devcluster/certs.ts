/**
 * The devcluster's own PKI: a CA, a serving certificate for 127.0.0.1/localhost (and the
 * `kubernetes` Service's IP and names) and an admin client certificate (CN
 * kubernetes-admin, O system:masters), all ECDSA P-256, made fresh for every cluster.
 * Kept apart from src/pki/, which serves the proxy.
 */
import { x509 } from '../src/pki/x509.js';
import { Ipam } from './ipam.js';

const ALG: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface ClusterCerts {
  ca: KeyPairPem;
  server: KeyPairPem;
  admin: KeyPairPem;
  /** issue another client certificate from the same CA (user CN, groups as O) */
  issueClient(user: string, groups: string[]): Promise<KeyPairPem>;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  return pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey));
}

function validity(): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.now() - 60_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + 365 * 24 * 3600_000) };
}

function escapeDn(s: string): string {
  return s.replace(/([,+"\\<>;=])/g, '\\$1');
}

export async function makeClusterCerts(clusterName: string): Promise<ClusterCerts> {
  const caKeys = await keyPair();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${escapeDn(`devcluster-ca-${clusterName}`)}`,
    keys: caKeys,
    signingAlgorithm: SIGN,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  async function issue(subject: string, extensions: x509.Extension[]): Promise<KeyPairPem> {
    const keys = await keyPair();
    const cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: caCert.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: SIGN,
      ...validity(),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ...extensions,
      ],
    });
    return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys) };
  }

  const issueClient = (user: string, groups: string[]): Promise<KeyPairPem> =>
    issue([...groups.map((g) => `O=${escapeDn(g)}`), `CN=${escapeDn(user)}`].join(', '), [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ]);

  const server = await issue(`CN=${escapeDn(`devcluster-${clusterName}`)}`, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    // As a real apiserver's: also the `kubernetes` Service's ClusterIP and names, which
    // in-cluster clients (KUBERNETES_SERVICE_HOST) verify.
    new x509.SubjectAlternativeNameExtension([
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: Ipam.kubernetesIp },
      { type: 'dns', value: 'localhost' },
      ...['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'].map((value) => ({ type: 'dns' as const, value })),
    ]),
  ]);
  const admin = await issueClient('kubernetes-admin', ['system:masters']);
  return { ca: { certPem: caCert.toString('pem') + '\n', keyPem: await keyPem(caKeys) }, server, admin, issueClient };
}
