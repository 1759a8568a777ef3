/**
 * The DER reader of basicConstraints and keyUsage (src/pki/ca-extensions.ts) reads what
 * @peculiar/x509 reads, on certificates with every combination the CA check cares about,
 * and refuses DER it cannot follow.
 */
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { test } from 'node:test';
import { caExtensions } from '../../src/pki/ca-extensions.js';
import { x509 } from '../../src/pki/x509.js';

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function certificate(extensions: x509.Extension[]): Promise<Uint8Array<ArrayBuffer>> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=t', keys, signingAlgorithm: alg, extensions });
  return new Uint8Array(cert.rawData);
}

/** What @peculiar/x509 reads from the same certificate, in caExtensions' shape. */
function oracle(der: Uint8Array<ArrayBuffer>) {
  const cert = new x509.X509Certificate(der);
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  return {
    ...(constraints ? { basicConstraints: { ca: constraints.ca } } : {}),
    ...(usage ? { keyUsage: { keyCertSign: (usage.usages & x509.KeyUsageFlags.keyCertSign) !== 0 } } : {}),
  };
}

test('reads basicConstraints and keyUsage as @peculiar/x509 does', async () => {
  const { KeyUsageFlags: F } = x509;
  const cases: Array<[string, x509.Extension[]]> = [
    ['no extensions', []],
    ['CA:TRUE, keyCertSign|cRLSign', [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(F.keyCertSign | F.cRLSign, true)]],
    ['CA:TRUE with pathLen, no keyUsage', [new x509.BasicConstraintsExtension(true, 2, true)]],
    ['CA:FALSE (a leaf)', [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(F.digitalSignature | F.keyEncipherment, true)]],
    ['CA:TRUE, keyUsage without keyCertSign', [new x509.BasicConstraintsExtension(true), new x509.KeyUsagesExtension(F.digitalSignature)]],
    ['only keyCertSign', [new x509.KeyUsagesExtension(F.keyCertSign)]],
    ['keyUsage with a second byte (decipherOnly)', [new x509.KeyUsagesExtension(F.keyCertSign | F.decipherOnly)]],
    ['other extensions around them', [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'a.test' }]), new x509.BasicConstraintsExtension(true), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])]],
  ];
  for (const [name, extensions] of cases) {
    const der = await certificate(extensions);
    assert.deepEqual(caExtensions(der), oracle(der), name);
  }
});

test('DER it cannot follow is refused, never read past its end', async () => {
  const der = await certificate([new x509.BasicConstraintsExtension(true)]);
  assert.throws(() => caExtensions(der.subarray(0, der.length - 20)), /DER/);
  assert.throws(() => caExtensions(new Uint8Array([0x30, 0x85, 1, 1, 1, 1, 1])), /length not supported/);
  assert.throws(() => caExtensions(new Uint8Array([0x31, 0x00])), /tag 31/);
  assert.throws(() => caExtensions(new Uint8Array([])), /ends early/);
});
