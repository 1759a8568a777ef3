import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { PkiError } from '../../src/pki/errors.js';
import { ADMIN_CLIENT } from '../../src/pki/issue.js';
import { PkiPool, type PkiPoolMode } from '../../src/workers/pki-pool.js';
import { freshCa, reencodeKey } from './helpers.js';
import { mutualTlsHandshake } from './tls.js';

for (const mode of ['worker', 'inline'] as PkiPoolMode[]) {
  describe(`PkiPool (${mode})`, () => {
    test('issues valid serving and client certs, concurrently, then is destroyed cleanly', async () => {
      const caPem = await freshCa('rsa-2048');
      // The pool takes any accepted key form; give it PKCS#1.
      const pool = await PkiPool.create({ certPem: caPem.certPem, keyPem: reencodeKey(caPem.keyPem, 'pkcs1') }, { mode, threads: 2 });
      try {
        assert.equal(pool.mode, mode);
        const caCert = new X509Certificate(pool.caPem);
        const servings = await Promise.all(
          ['a', 'b', 'c', 'd'].map((h) => pool.issueServingCert({ hosts: [`${h}.example`, '127.0.0.1'] })),
        );
        const client = await pool.issueClientCert(ADMIN_CLIENT);
        for (const s of servings) {
          const cert = new X509Certificate(s.certPem);
          assert.ok(cert.verify(caCert.publicKey));
          assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
          assert.ok(s.notAfter instanceof Date, 'dates survive the thread boundary');
        }
        assert.equal(new Set(servings.map((s) => s.serialNumber)).size, 4);
        assert.equal(new X509Certificate(servings[2]!.certPem).checkHost('c.example'), 'c.example');

        const serving = servings[0]!;
        const out = await mutualTlsHandshake(
          { certPem: serving.certPem, keyPem: serving.keyPem, caPem: pool.caPem },
          { caPem: serving.caPem, certPem: client.certPem, keyPem: client.keyPem },
        );
        assert.deepEqual(out.client, { ok: true });
        assert.deepEqual(out.server, { ok: true, peerCN: 'kubernetes-admin' });

        await assert.rejects(pool.issueServingCert({ hosts: ['not a host'] }), /invalid host/);
      } finally {
        await pool.destroy();
      }
      await pool.destroy(); // idempotent
      await assert.rejects(pool.issueClientCert(ADMIN_CLIENT), /PkiPool is destroyed/);
      const left = process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker');
      assert.deepEqual(left, [], 'no worker handles left');
    });

    if (mode === 'worker') {
      test('starts no thread until the first certificate, and ends idle threads', async () => {
        const pool = await PkiPool.create(await freshCa('ec-p256'), { mode, threads: 2, idleTimeoutMs: 200 });
        try {
          assert.equal(pool.threads, 0, 'no thread at start');
          await pool.issueServingCert({ hosts: ['127.0.0.1'] });
          assert.ok(pool.threads >= 1, 'a thread for the first certificate');
          // Bounded wait for the idle timeout (200 ms) to end it.
          for (let i = 0; i < 200 && pool.threads > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
          assert.equal(pool.threads, 0, 'idle threads end');
          await pool.issueClientCert(ADMIN_CLIENT);
          assert.ok(pool.threads >= 1, 'and start again on demand');
        } finally {
          await pool.destroy();
        }
      });
    }

    test('refuses a bad CA up front with a one-line PkiError', async () => {
      const a = await freshCa();
      const b = await freshCa();
      const err = await PkiPool.create({ certPem: a.certPem, keyPem: b.keyPem }, { mode }).then(
        (pool) => pool.destroy().then(() => assert.fail('expected a rejection')),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PkiError);
      assert.match(err.message, /does not match/);
      assert.doesNotMatch(err.message, /\n|-----BEGIN/);
    });
  });
}
