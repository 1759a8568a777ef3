import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { importCa, type CertificateAuthority } from '../../src/pki/ca.js';
import { ADMIN_CLIENT, issueClientCert, issueServingCert, type IssuedCert } from '../../src/pki/issue.js';
import { freshCa } from './helpers.js';
import { mutualTlsHandshake } from './tls.js';

describe('a real mutual-TLS handshake on 127.0.0.1', () => {
  let ca: CertificateAuthority;
  let serving: IssuedCert;
  let client: IssuedCert;
  let foreignClient: IssuedCert;
  let foreignServing: IssuedCert;

  before(async () => {
    ca = await importCa(await freshCa('rsa-2048', 'tower-proxy-ca'));
    const other = await importCa(await freshCa('ec-p256', 'someone-else'));
    [serving, client, foreignClient, foreignServing] = await Promise.all([
      issueServingCert(ca, { hosts: ['127.0.0.1'] }),
      issueClientCert(ca, ADMIN_CLIENT),
      issueClientCert(other, ADMIN_CLIENT),
      issueServingCert(other, { hosts: ['127.0.0.1'] }),
    ]);
  });

  const server = () => ({ certPem: serving.certPem, keyPem: serving.keyPem, caPem: ca.certPem });

  test('succeeds with the serving cert and a client cert of the same CA (IP identity)', async () => {
    const out = await mutualTlsHandshake(server(), { caPem: serving.caPem, certPem: client.certPem, keyPem: client.keyPem });
    assert.deepEqual(out.client, { ok: true });
    assert.deepEqual(out.server, { ok: true, peerCN: 'kubernetes-admin' });
  });

  test('succeeds by DNS name kubernetes.default.svc', async () => {
    const out = await mutualTlsHandshake(server(), {
      caPem: ca.certPem,
      certPem: client.certPem,
      keyPem: client.keyPem,
      servername: 'kubernetes.default.svc',
    });
    assert.deepEqual(out.client, { ok: true });
  });

  test('the server refuses a client cert from another CA', async () => {
    const out = await mutualTlsHandshake(server(), { caPem: ca.certPem, certPem: foreignClient.certPem, keyPem: foreignClient.keyPem });
    assert.equal(out.server.ok, false);
    assert.equal(out.client.ok, false);
  });

  test('the server refuses a client without a certificate', async () => {
    const out = await mutualTlsHandshake(server(), { caPem: ca.certPem });
    assert.equal(out.server.ok, false);
    assert.equal(out.client.ok, false);
  });

  test('the client refuses a serving cert from another CA', async () => {
    const out = await mutualTlsHandshake(
      { certPem: foreignServing.certPem, keyPem: foreignServing.keyPem, caPem: ca.certPem },
      { caPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem },
    );
    assert.equal(out.client.ok, false);
    assert.match(out.client.ok ? '' : out.client.error, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
  });

  test('the client refuses a name the serving cert does not carry', async () => {
    const out = await mutualTlsHandshake(server(), {
      caPem: ca.certPem,
      certPem: client.certPem,
      keyPem: client.keyPem,
      servername: 'evil.example',
    });
    assert.equal(out.client.ok, false);
    assert.match(out.client.ok ? '' : out.client.error, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });
});
