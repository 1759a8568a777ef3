import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadCaFromFiles } from '../../src/pki/ca-load.js';
import { importCa } from '../../src/pki/ca.js';
import { PkiError } from '../../src/pki/errors.js';
import { issueClientCert, issueServingCert } from '../../src/pki/issue.js';
import { freshCa, leaksKey, tempDir, writeCaFiles, type KeyFormat } from './helpers.js';
import { createSelfSignedCa, type CaKeyType } from '../../src/pki/ca-create.js';
import { toPem } from '../../src/pki/der.js';
import { x509 } from '../../src/pki/x509.js';
import { webcrypto } from 'node:crypto';

const cases: { keyType: CaKeyType; format: KeyFormat; banner: string; kind: string }[] = [
  { keyType: 'rsa-2048', format: 'pkcs1', banner: 'RSA PRIVATE KEY', kind: 'rsa' },
  { keyType: 'rsa-2048', format: 'pkcs8', banner: 'PRIVATE KEY', kind: 'rsa' },
  { keyType: 'ec-p256', format: 'sec1', banner: 'EC PRIVATE KEY', kind: 'ec' },
  { keyType: 'ec-p256', format: 'pkcs8', banner: 'PRIVATE KEY', kind: 'ec' },
  { keyType: 'ec-p384', format: 'sec1', banner: 'EC PRIVATE KEY', kind: 'ec' },
];

describe('loadCaFromFiles: accepted key forms', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(() => tmp.cleanup());

  for (const c of cases) {
    test(`${c.keyType} key as ${c.format}`, async () => {
      const ca = await freshCa(c.keyType);
      const dir = join(tmp.dir, `${c.keyType}-${c.format}`);
      await mkdir(dir);
      const files = await writeCaFiles(dir, ca, c.format);

      const loaded = await loadCaFromFiles(files);
      assert.equal(loaded.key.kind, c.kind);
      assert.match(loaded.keyPem, /^-----BEGIN PRIVATE KEY-----\n/, 'key normalized to PKCS#8');
      assert.equal(new X509Certificate(loaded.certPem).fingerprint256, new X509Certificate(ca.certPem).fingerprint256);

      const authority = await importCa(loaded);
      const caCert = new X509Certificate(loaded.certPem);
      const serving = new X509Certificate((await issueServingCert(authority, { hosts: [] })).certPem);
      const client = new X509Certificate((await issueClientCert(authority, { commonName: 'u' })).certPem);
      assert.ok(serving.verify(caCert.publicKey), 'serving cert verifies against the CA');
      assert.ok(client.verify(caCert.publicKey), 'client cert verifies against the CA');
    });
  }
});

describe('loadCaFromFiles: bad input gives one clear line', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let good: { certFile: string; keyFile: string };
  let goodKeyPem: string;
  const secrets: string[] = [];

  before(async () => {
    tmp = await tempDir();
    const ca = await freshCa('ec-p256');
    goodKeyPem = ca.keyPem;
    secrets.push(ca.keyPem);
    good = await writeCaFiles(tmp.dir, ca, 'sec1');
  });
  after(() => tmp.cleanup());

  async function file(name: string, text: string): Promise<string> {
    const path = join(tmp.dir, name);
    await writeFile(path, text);
    return path;
  }

  async function expectError(files: { certFile: string; keyFile: string }, pattern: RegExp, mentions: string): Promise<void> {
    const err = await loadCaFromFiles(files).then(
      () => assert.fail('expected loadCaFromFiles to reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PkiError, `a PkiError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /[\r\n]/, 'one line');
    assert.match(err.message, pattern);
    assert.ok(err.message.includes(mentions), `names the file ${mentions}: ${err.message}`);
    for (const s of secrets) assert.ok(!leaksKey(err.message, s), `no key material: ${err.message}`);
  }

  test('missing cert file', async () => {
    const missing = join(tmp.dir, 'nope.crt');
    await expectError({ ...good, certFile: missing }, /--ca-cert.*file not found/, missing);
  });

  test('missing key file', async () => {
    const missing = join(tmp.dir, 'nope.key');
    await expectError({ ...good, keyFile: missing }, /--ca-key.*file not found/, missing);
  });

  test('a directory instead of a file', async () => {
    await expectError({ ...good, keyFile: tmp.dir }, /is a directory/, tmp.dir);
  });

  test('garbage key', async () => {
    const keyFile = await file('garbage.key', 'this is not a key\n');
    await expectError({ ...good, keyFile }, /no PEM private key found/, keyFile);
  });

  test('corrupt key block', async () => {
    const keyFile = await file('corrupt.key', '-----BEGIN EC PRIVATE KEY-----\nAAAAbogusbogus\n-----END EC PRIVATE KEY-----\n');
    await expectError({ ...good, keyFile }, /cannot be parsed as a private key/, keyFile);
  });

  test('garbage cert', async () => {
    const certFile = await file('garbage.crt', 'hello\n');
    await expectError({ ...good, certFile }, /no PEM certificate found/, certFile);
  });

  test('corrupt cert block', async () => {
    const certFile = await file('corrupt.crt', '-----BEGIN CERTIFICATE-----\nMIIBbogus\n-----END CERTIFICATE-----\n');
    await expectError({ ...good, certFile }, /not a valid X\.509 certificate/, certFile);
  });

  test('swapped files', async () => {
    await expectError({ certFile: good.keyFile, keyFile: good.certFile }, /swap --ca-cert and --ca-key/, good.keyFile);
  });

  test('public key instead of private key', async () => {
    const { createPublicKey } = await import('node:crypto');
    const keyFile = await file('pub.key', createPublicKey(goodKeyPem).export({ type: 'spki', format: 'pem' }).toString());
    await expectError({ ...good, keyFile }, /holds a public key/, keyFile);
  });

  test('encrypted key', async () => {
    const { createPrivateKey } = await import('node:crypto');
    const encrypted = createPrivateKey(goodKeyPem)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })
      .toString();
    const keyFile = await file('enc.key', encrypted);
    await expectError({ ...good, keyFile }, /encrypted/, keyFile);
  });

  test('key not matching the certificate (same type)', async () => {
    const other = await freshCa('ec-p256');
    secrets.push(other.keyPem);
    const keyFile = await file('other.key', other.keyPem);
    await expectError({ ...good, keyFile }, /does not match the public key of CA certificate file/, keyFile);
  });

  test('key not matching the certificate (other type)', async () => {
    const other = await freshCa('rsa-2048');
    secrets.push(other.keyPem);
    const keyFile = await file('other-rsa.key', other.keyPem);
    await expectError({ ...good, keyFile }, /does not match/, keyFile);
  });

  test('a leaf certificate instead of a CA', async () => {
    const ca = await freshCa('ec-p256');
    const leaf = await issueServingCert(await importCa(ca), { hosts: [] });
    secrets.push(leaf.keyPem);
    const certFile = await file('leaf.crt', leaf.certPem);
    const keyFile = await file('leaf.key', leaf.keyPem);
    await expectError({ certFile, keyFile }, /is not a CA/, certFile);
  });

  test('an expired CA', async () => {
    const ca = await createSelfSignedCa({ now: new Date(Date.now() - 10 * 86_400_000), validityDays: 1 });
    secrets.push(ca.keyPem);
    const certFile = await file('expired.crt', ca.certPem);
    const keyFile = await file('expired.key', ca.keyPem);
    await expectError({ certFile, keyFile }, /expired on .*renew the CA/, certFile);
  });

  test('a CA certificate whose keyUsage forbids certificate signing', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=no-cert-sign',
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ],
    });
    const keyPem = toPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey), 'PRIVATE KEY');
    secrets.push(keyPem);
    const certFile = await file('nosign.crt', cert.toString('pem'));
    const keyFile = await file('nosign.key', keyPem);
    await expectError({ certFile, keyFile }, /lacks keyCertSign/, certFile);
  });
});
