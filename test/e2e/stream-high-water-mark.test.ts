/**
 * The bins give every byte stream a 64 KiB high-water mark on every supported Node
 * (src/bin/stream-high-water-mark.ts). What it is for: a TLS socket a server accepts —
 * the proxy's client connections — which takes no high-water mark of its own (tls.Server
 * does not hand its option on: seen on Node 20 and 24) and so wrote a bulk response one
 * 16 KiB record per turn on Node 20.
 * Each case runs in a child: the default is process-wide.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { raiseStreamHighWaterMark, STREAM_HIGH_WATER_MARK } from '../../src/bin/stream-high-water-mark.js';
import { runToEnd } from '../helpers/bin-process.js';

const RAISE_MODULE = new URL('../../src/bin/stream-high-water-mark.js', import.meta.url).href;
const PKI_MODULE = new URL('../../src/pki/index.js', import.meta.url).href;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The writable high-water mark of a TLS socket a tls.Server accepted, in a child that did or did not raise the default. */
async function acceptedTlsSocketMark(raise: boolean): Promise<number> {
  const script = `
    const { createSelfSignedCa, importCa, issueServingCert } = await import(${JSON.stringify(PKI_MODULE)});
    const tls = await import('node:tls');
    ${raise ? `(await import(${JSON.stringify(RAISE_MODULE)})).raiseStreamHighWaterMark();` : ''}
    const ca = await createSelfSignedCa({ commonName: 'hwm-test-ca' });
    const cert = await issueServingCert(await importCa(ca), { hosts: ['127.0.0.1'] });
    const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (socket) => {
      console.log('mark ' + socket.writableHighWaterMark);
      socket.destroy();
      server.close();
    });
    server.listen(0, '127.0.0.1', () => {
      const client = tls.connect({ host: '127.0.0.1', port: server.address().port, ca: ca.certPem });
      client.on('error', () => {});
    });`;
  const child = await runToEnd(process.execPath, ['--input-type=module', '-e', script], {}, 30_000);
  const output = child.lines.map((l) => l.text).join('\n');
  assert.equal(child.exitCode, 0, output);
  const mark = /mark (\d+)/.exec(output)?.[1];
  assert.ok(mark, `no mark printed:\n${output}`);
  return Number(mark);
}

describe('the stream high-water mark the bins use', { concurrency: true }, () => {
  it('a TLS socket a server accepts gets 64 KiB once raised, on every Node', async () => {
    assert.equal(await acceptedTlsSocketMark(true), STREAM_HIGH_WATER_MARK);
  });

  it("without it, such a socket has Node's default: 16 KiB before Node 22 (what the bins raise)", async () => {
    assert.equal(await acceptedTlsSocketMark(false), NODE_MAJOR < 22 ? 16 * 1024 : 64 * 1024);
  });

  it('raising changes the default only where it is lower', () => {
    // In this process too: on Node 22+ a no-op; on Node 20 the test runner's later streams get 64 KiB, as in the bins.
    assert.equal(raiseStreamHighWaterMark(), NODE_MAJOR < 22);
    assert.equal(raiseStreamHighWaterMark(), false);
  });
});
