import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { startRelay } from '../../dev/bench/bench-relay.js';

async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, sockets };
}

test('the bench relay delays each direction by RTT/2, keeps bytes in order, and holds no more than its cap', { timeout: 20_000 }, async () => {
  const echo = await echoServer();
  const cap = 256 * 1024;
  const relay = await startRelay({ targetHost: '127.0.0.1', targetPort: echo.port, delayMs: 40, capBytes: cap });
  const client = connect(relay.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
    // One byte there and back crosses the relay twice: at least one RTT (80 ms).
    const started = performance.now();
    client.write('x');
    await new Promise((resolve) => client.once('data', resolve));
    const rtt = performance.now() - started;
    assert.ok(rtt >= 78, `round trip took ${rtt.toFixed(1)} ms, expected ≥ 80 ms minus timer slack`);

    const data = randomBytes(4 * 1024 * 1024);
    const received: Buffer[] = [];
    let bytes = 0;
    const done = new Promise<void>((resolve) =>
      client.on('data', (chunk: Buffer) => {
        received.push(chunk);
        bytes += chunk.length;
        if (bytes >= data.length) resolve();
      }),
    );
    client.write(data);
    await done;
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.equal(digest(Buffer.concat(received)), digest(data), 'echoed bytes differ');
    const stats = relay.stats();
    assert.equal(stats.bytesUp, data.length + 1);
    assert.equal(stats.bytesDown, data.length + 1);
    assert.ok(stats.capPauses > 0, '4 MiB through a 256 KiB cap must have paused the sender');
    // Over the cap by at most what one read delivers before the pause takes effect.
    assert.ok(stats.maxHeldBytes <= cap + 1024 * 1024, `held ${stats.maxHeldBytes} bytes with a ${cap}-byte cap`);
  } finally {
    client.destroy();
    await relay.close();
    for (const socket of echo.sockets) socket.destroy();
    await new Promise<void>((resolve) => echo.server.close(() => resolve()));
  }
});
