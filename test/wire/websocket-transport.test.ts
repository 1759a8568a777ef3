/**
 * The SSH transport over a WebSocket (src/protocol/websocket-transport.ts), on a real ws
 * connection over 127.0.0.1: the packets of one event-loop turn leave in one socket write,
 * each still its own WebSocket message in order; a lone packet is not held past its turn;
 * and a batch counts against the stream's high-water mark, so backpressure still works.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { webSocketTransport } from '../../src/protocol/websocket-transport.js';
import { nextEvent } from '../helpers/wait.js';

let server: Server;
let wss: WebSocketServer;
/** Messages the server received, in order. */
const received: Buffer[] = [];
let messageWaiters: Array<() => void> = [];

before(async () => {
  server = createServer();
  wss = new WebSocketServer({ server });
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      received.push(data);
      for (const wake of messageWaiters.splice(0)) wake();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  for (const client of wss.clients) client.terminate();
  wss.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A client WebSocket and its transport; counts the socket's write calls (each one a write system call). */
async function connectClient(): Promise<{ ws: WebSocket; transport: Duplex; socketWrites: () => number }> {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  const upgraded = nextEvent<import('node:http').IncomingMessage>(ws, 'upgrade', 'the upgrade');
  await nextEvent(ws, 'open', 'the WebSocket to open');
  const socket = (await upgraded).socket as Socket & { _writev: (...args: unknown[]) => unknown; _write: (...args: unknown[]) => unknown };
  let writes = 0;
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method].bind(socket);
    socket[method] = (...args: unknown[]) => {
      writes += 1;
      return original(...args);
    };
  }
  return { ws, transport: webSocketTransport(ws, socket), socketWrites: () => writes };
}

async function receivedCount(n: number): Promise<void> {
  for (let i = 0; i < 1000 && received.length < n; i += 1) await new Promise<void>((resolve) => messageWaiters.push(resolve));
  assert.equal(received.length, n);
}

it('the packets of one turn leave in one socket write, each its own message, in order', async () => {
  const { ws, transport, socketWrites } = await connectClient();
  received.length = 0;
  const before = socketWrites();
  const packets = Array.from({ length: 20 }, (_, i) => Buffer.from(`packet ${i} `.repeat(i + 1)));
  for (const packet of packets) transport.write(packet);
  await receivedCount(packets.length);
  assert.deepEqual(received, packets);
  assert.equal(socketWrites() - before, 1, 'socket writes for 20 packets written in one turn');
  ws.terminate();
});

it('a packet written alone goes out in its turn, without waiting for more', async () => {
  const { ws, transport } = await connectClient();
  received.length = 0;
  transport.write(Buffer.from('alone'));
  await receivedCount(1);
  assert.equal(received[0]!.toString(), 'alone');
  ws.terminate();
});

it('a batch counts against the high-water mark: writers are told to wait, and drain follows', async () => {
  const { ws, transport } = await connectClient();
  received.length = 0;
  const packet = Buffer.alloc(1024, 1);
  let accepted = 0;
  while (transport.write(packet)) accepted += 1;
  assert.ok(accepted < 64, `${accepted} KiB accepted in one turn before the stream asked to wait`);
  assert.equal(transport.writableNeedDrain, true);
  await nextEvent(transport, 'drain', 'the batch to drain');
  await receivedCount(accepted + 1);
  ws.terminate();
});
