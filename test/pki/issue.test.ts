import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { importCa } from '../../src/pki/ca.js';
import { classifyHost, hostSetKey } from '../../src/pki/hosts.js';
import { ADMIN_CLIENT, issueClientCert, issueServingCert } from '../../src/pki/issue.js';
import { x509 } from '../../src/pki/x509.js';
import { freshCa } from './helpers.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

describe('hosts', () => {
  test('classifies IPs and DNS names, normalized', () => {
    assert.deepEqual(classifyHost('10.1.2.3'), { type: 'ip', value: '10.1.2.3' });
    assert.deepEqual(classifyHost('[::0001]'), { type: 'ip', value: '::1' });
    assert.deepEqual(classifyHost('API.Example.com.'), { type: 'dns', value: 'api.example.com' });
    assert.throws(() => classifyHost(''), /invalid host/);
    assert.throws(() => classifyHost('bad host'), /invalid host/);
  });

  test('host set key ignores order, case and duplicates', () => {
    assert.equal(hostSetKey(['b.example', '10.0.0.1', 'A.example']), hostSetKey(['a.example', 'b.example', '10.0.0.1', 'a.example']));
    assert.notEqual(hostSetKey(['a.example']), hostSetKey(['a.example', '10.0.0.1']));
  });
});

describe('issueServingCert', () => {
  test('SANs, EKU, key type, validity; verifies against the CA', async () => {
    const caPem = await freshCa('ec-p256');
    const ca = await importCa(caPem);
    const now = new Date();
    const issued = await issueServingCert(ca, { hosts: ['10.96.0.10', 'mc-member.kubesphere-system.svc', '2001:db8::1'], now });
    const cert = new X509Certificate(issued.certPem);
    const caCert = new X509Certificate(caPem.certPem);

    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.ca, false);
    for (const name of ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'mc-member.kubesphere-system.svc']) {
      assert.equal(cert.checkHost(name), name, `DNS SAN ${name}`);
    }
    assert.equal(cert.checkIP('10.96.0.10'), '10.96.0.10');
    assert.equal(cert.checkIP('2001:db8::1'), '2001:db8::1');
    assert.equal(cert.checkIP('10.96.0.11'), undefined);
    assert.equal(cert.checkHost('10.96.0.10'), undefined, 'an IP is not put in as a DNS name');
    assert.equal(cert.checkHost('example.com'), undefined);
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

    const fiveMinutes = 5 * 60_000; // backdated for peers whose clock is behind
    assert.equal(issued.notBefore.getTime(), Math.floor((now.getTime() - fiveMinutes) / 1000) * 1000);
    const days = (issued.notAfter.getTime() - now.getTime()) / 86_400_000;
    assert.ok(days > 364 && days <= 365, `about a year: ${days}`);
    assert.equal(issued.caPem, ca.certPem);
    assert.match(issued.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(new x509.X509Certificate(issued.certPem).getExtension(x509.AuthorityKeyIdentifierExtension));
  });

  test('two issuances get distinct keys and serials', async () => {
    const ca = await importCa(await freshCa());
    const [a, b] = await Promise.all([issueServingCert(ca, { hosts: [] }), issueServingCert(ca, { hosts: [] })]);
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.notEqual(a.keyPem, b.keyPem);
  });

  test('a malformed host is rejected', async () => {
    const ca = await importCa(await freshCa());
    await assert.rejects(issueServingCert(ca, { hosts: ['not a host'] }), /invalid host/);
  });

  test('never outlives the CA', async () => {
    const caPem = await freshCa();
    const ca = await importCa(caPem);
    const issued = await issueServingCert(ca, { hosts: [], validityDays: 100_000 });
    assert.equal(issued.notAfter.getTime(), ca.cert.notAfter.getTime());
  });

  const algorithms: { keyType: 'rsa-2048' | 'ec-p256' | 'ec-p384'; signature: { name: string; hash?: string } }[] = [
    { keyType: 'rsa-2048', signature: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
    { keyType: 'ec-p256', signature: { name: 'ECDSA', hash: 'SHA-256' } },
    { keyType: 'ec-p384', signature: { name: 'ECDSA', hash: 'SHA-384' } },
  ];
  for (const { keyType, signature } of algorithms) {
    test(`signature algorithm follows a ${keyType} CA key`, async () => {
      const caPem = await freshCa(keyType);
      const issued = await issueServingCert(await importCa(caPem), { hosts: [] });
      const cert = new x509.X509Certificate(issued.certPem);
      const alg = cert.signatureAlgorithm as { name: string; hash?: { name: string } };
      assert.equal(alg.name, signature.name);
      assert.equal(alg.hash?.name, signature.hash);
      assert.ok(new X509Certificate(issued.certPem).verify(new X509Certificate(caPem.certPem).publicKey));
    });
  }
});

describe('issueClientCert', () => {
  test('subject CN and O, clientAuth', async () => {
    const caPem = await freshCa();
    const issued = await issueClientCert(await importCa(caPem), ADMIN_CLIENT);
    const cert = new X509Certificate(issued.certPem);
    assert.ok(cert.verify(new X509Certificate(caPem.certPem).publicKey));
    const subject = cert.subject.split('\n');
    assert.ok(subject.includes('CN=kubernetes-admin'), cert.subject);
    assert.ok(subject.includes('O=system:masters'), cert.subject);
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  test('several organizations, and ones with commas, stay separate', async () => {
    const issued = await issueClientCert(await importCa(await freshCa()), {
      commonName: 'alice',
      organizations: ['team-a', 'dev, ops'],
    });
    const name = new x509.X509Certificate(issued.certPem).subjectName;
    assert.deepEqual(name.getField('O'), ['team-a', 'dev, ops']);
    assert.deepEqual(name.getField('CN'), ['alice']);
  });
});
