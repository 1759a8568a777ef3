/**
 * ssh2's WebAssembly Poly1305 serves only its JavaScript chacha20-poly1305. Our patch
 * (docs/ssh2-patch.md) loads it only where that cipher can be used: a handshake with the
 * native binding never instantiates it (its 16 MiB WebAssembly memory and ~1 MB of RSS
 * stay out of every process), and a caller that forces the JavaScript cipher gets a clear
 * error until it awaits `init`, then a working cipher.
 *
 * Runs in its own process (node --test), so nothing else loaded the module before.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { connect, createServer, type Socket } from 'node:net';
import { after, it } from 'node:test';
import ssh2 from 'ssh2';
import { loadOrCreateHostKey } from '../../src/actors/proxy/host-key.js';
import { nextEvent } from '../helpers/wait.js';

interface Crypto {
  readonly CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  readonly bindingAvailable: boolean;
  readonly init: Promise<void>;
  createCipher(config: object): unknown;
}
const require = createRequire(import.meta.url);
const crypto = require('ssh2/lib/protocol/crypto.js') as Crypto;
const POLY1305 = require.resolve('ssh2/lib/protocol/crypto/poly1305.js');
const NO_BINDING = !crypto.bindingAvailable && 'the binding is not built for this Node, so the handshake needs Poly1305';

const closers: Array<() => void> = [];
after(() => {
  for (const close of closers.splice(0)) close();
});

function forcedChaCha(): unknown {
  const cipherInfo = crypto.CIPHER_INFO['chacha20-poly1305@openssh.com']!;
  return crypto.createCipher({
    outbound: {
      onWrite: () => {},
      seqno: 0,
      cipherInfo,
      cipherIV: Buffer.alloc(cipherInfo.ivLen),
      cipherKey: randomBytes(cipherInfo.keyLen),
      forceNative: true,
    },
  });
}

it('a handshake with the binding, chacha20-poly1305 negotiated, never loads the WebAssembly Poly1305', { skip: NO_BINDING }, async () => {
  const hostKey = await loadOrCreateHostKey();
  const tcp = createServer((socket) => {
    const server = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('error', () => {});
      conn.on('authentication', (ctx) => ctx.accept());
    });
    server.injectSocket(socket as never);
  });
  closers.push(() => tcp.close());
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const sock: Socket = connect((tcp.address() as { port: number }).port, '127.0.0.1');
  const client = new ssh2.Client();
  closers.push(() => client.end());
  client.on('error', () => {});
  const ready = nextEvent(client, 'ready', 'the SSH client to be ready');
  client.connect({
    sock: sock as never,
    username: 'u',
    password: 'p',
    hostVerifier: () => true,
    readyTimeout: 10_000,
    algorithms: { cipher: ['chacha20-poly1305@openssh.com'] },
  });
  await ready;
  assert.equal(require.cache[POLY1305], undefined, 'poly1305.js was loaded');
  assert.ok(process.memoryUsage().external < 16 * 1024 * 1024, `external memory ${process.memoryUsage().external} bytes`);
});

it('forcing the JavaScript chacha20-poly1305 before init says to await init; after it, the cipher is made', async () => {
  if (crypto.bindingAvailable) {
    assert.throws(forcedChaCha, /chacha20-poly1305 without the binding: await init first/);
  }
  await crypto.init;
  assert.notEqual(require.cache[POLY1305], undefined);
  assert.ok(forcedChaCha());
});
