import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import type { IssuedCert, ServingCertRequest } from '../../src/pki/issue.js';
import { ServingCertCache, type ServingCertIssuer } from '../../src/pki/serving-cert-cache.js';
import { PkiPool } from '../../src/workers/pki-pool.js';
import { freshCa } from './helpers.js';

const DAY = 86_400_000;

/** An issuer whose issuances the test completes by hand. */
class ManualIssuer implements ServingCertIssuer {
  readonly calls: { req: ServingCertRequest; resolve: (c: IssuedCert) => void; reject: (e: Error) => void }[] = [];
  #serial = 0;

  issueServingCert(req: ServingCertRequest): Promise<IssuedCert> {
    return new Promise((resolve, reject) => this.calls.push({ req, resolve, reject }));
  }

  /** A fake certificate valid until `notAfter`. */
  cert(notAfter: number): IssuedCert {
    const serialNumber = String(++this.#serial);
    return { certPem: `cert-${serialNumber}`, keyPem: 'k', caPem: 'ca', notBefore: new Date(0), notAfter: new Date(notAfter), serialNumber };
  }
}

describe('ServingCertCache', () => {
  test('same hosts → same cert; new hosts → new cert; other clusters separate', async () => {
    const caPem = await freshCa();
    const pool = await PkiPool.create(caPem, { mode: 'inline' });
    try {
      const cache = new ServingCertCache(pool);
      const first = await cache.get('member-1', ['10.0.0.1', 'a.example']);
      const again = await cache.get('member-1', ['A.example', '10.0.0.1', 'a.example']);
      assert.equal(again, first);
      const other = await cache.get('member-2', ['10.0.0.1', 'a.example']);
      assert.notEqual(other.serialNumber, first.serialNumber);
      const widened = await cache.get('member-1', ['10.0.0.1', 'a.example', 'lb.example']);
      assert.notEqual(widened.serialNumber, first.serialNumber);
      assert.equal(new X509Certificate(widened.certPem).checkHost('lb.example'), 'lb.example');
      assert.equal(await cache.get('member-1', ['lb.example', 'a.example', '10.0.0.1']), widened);
      assert.equal(cache.size, 2);
    } finally {
      await pool.destroy();
    }
  });

  test('concurrent calls for one cluster share one issuance', async () => {
    const issuer = new ManualIssuer();
    const cache = new ServingCertCache(issuer);
    const pending = Array.from({ length: 10 }, () => cache.get('m', ['x.example']));
    assert.equal(issuer.calls.length, 1);
    const cert = issuer.cert(Date.now() + 365 * DAY);
    issuer.calls[0]!.resolve(cert);
    for (const got of await Promise.all(pending)) assert.equal(got, cert);
    assert.equal(await cache.get('m', ['x.example']), cert);
    assert.equal(issuer.calls.length, 1);
  });

  test('a cert in the last third of its life is reissued, once for concurrent callers', async () => {
    let now = 0;
    const issuer = new ManualIssuer();
    const cache = new ServingCertCache(issuer, { now: () => now });
    const p1 = cache.get('m', []);
    const old = issuer.cert(90 * DAY);
    issuer.calls[0]!.resolve(old);
    assert.equal(await p1, old);

    now = 59 * DAY; // 31 of 90 days left: more than a third
    assert.equal(await cache.get('m', []), old);
    assert.equal(issuer.calls.length, 1);

    now = 61 * DAY; // 29 of 90 days left
    const [a, b] = [cache.get('m', []), cache.get('m', [])];
    // Both callers first await the old entry; let them notice the expiry.
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(issuer.calls.length, 2, 'one reissue');
    const fresh = issuer.cert(now + 365 * DAY);
    issuer.calls[1]!.resolve(fresh);
    assert.equal(await a, fresh);
    assert.equal(await b, fresh);
  });

  test('a cert capped by an expiring CA is not reissued: a fresh one could not last longer', async () => {
    let now = 0;
    const issuer = new ManualIssuer();
    Object.assign(issuer, { caNotAfter: new Date(20 * DAY) });
    const cache = new ServingCertCache(issuer, { now: () => now });
    const first = cache.get('m', []);
    issuer.calls[0]!.resolve(issuer.cert(20 * DAY)); // capped at the CA's expiry
    await first;
    for (const day of [10, 15, 19]) {
      now = day * DAY;
      await cache.get('m', []);
    }
    assert.equal(issuer.calls.length, 1, 'no reissue in the CA\'s last days');
  });

  test('a failed issuance is shared by its callers and not cached', async () => {
    const issuer = new ManualIssuer();
    const cache = new ServingCertCache(issuer);
    const [a, b] = [cache.get('m', []), cache.get('m', [])];
    issuer.calls[0]!.reject(new Error('boom'));
    await assert.rejects(a, /boom/);
    await assert.rejects(b, /boom/);
    assert.equal(cache.size, 0);
    const c = cache.get('m', []);
    assert.equal(issuer.calls.length, 2, 'retried');
    issuer.calls[1]!.resolve(issuer.cert(Date.now() + 365 * DAY));
    await c;
  });

  test('delete forgets a cluster, and drops an issuance in flight', async () => {
    const issuer = new ManualIssuer();
    const cache = new ServingCertCache(issuer);
    const inFlight = cache.get('m', []);
    assert.equal(cache.delete('m'), true);
    assert.equal(cache.size, 0);
    issuer.calls[0]!.resolve(issuer.cert(Date.now() + 365 * DAY));
    await inFlight; // its caller still gets it
    assert.equal(cache.size, 0, 'not stored after delete');

    const next = cache.get('m', []);
    assert.equal(issuer.calls.length, 2);
    issuer.calls[1]!.resolve(issuer.cert(Date.now() + 365 * DAY));
    await next;
    assert.equal(cache.delete('m'), true);
    assert.equal(cache.delete('m'), false);
  });
});
