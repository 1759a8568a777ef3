/**
 * The flow control our ssh2 patch adds (docs/ssh2-patch.md), on a real ssh2 client and
 * server over TCP on 127.0.0.1: data beyond the window ends the connection on either
 * side, naming the channel; writes wait for the transport (so a peer that grants a huge
 * window and stops reading cannot make us queue) and every byte still arrives once it
 * reads again; key exchanges in the middle of a transfer lose nothing; a peer that asks
 * and never reads our answers stops being read; a custom channel can be refused with a
 * reason and a description.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import ssh2, { type ClientChannel, type Connection, type Client as SshClient, type ServerChannel } from 'ssh2';
import { loadOrCreateHostKey } from '../../src/actors/proxy/host-key.js';
import '../../src/protocol/ssh2-extensions.js';
import { floodChannel, grantHugeWindow } from '../helpers/ssh-wire.js';
import { nextEvent } from '../helpers/wait.js';

const { Client, Server } = ssh2;
const MiB = 1024 * 1024;

interface Pair {
  readonly client: SshClient;
  readonly conn: Connection;
  /** The raw TCP sockets under each side. */
  readonly clientSock: Socket;
  readonly serverSock: Socket;
  /** The server opens a `kubesphere` channel; the client accepts it. */
  channel(): Promise<{ server: ServerChannel; client: ClientChannel }>;
  close(): void;
}

const pairs: Pair[] = [];
afterEach(() => {
  for (const p of pairs.splice(0)) p.close();
});

async function sshPair(): Promise<Pair> {
  const hostKey = await loadOrCreateHostKey();
  let serverSock!: Socket;
  const connReady = new Promise<Connection>((resolve) => {
    const tcp: NetServer = createServer((socket) => {
      serverSock = socket;
      const server = new Server({ hostKeys: [hostKey] }, (conn) => {
        conn.on('error', () => {});
        conn.on('authentication', (ctx) => ctx.accept());
        conn.on('ready', () => resolve(conn));
      });
      server.injectSocket(socket as never);
      tcp.close();
    });
    tcp.listen(0, '127.0.0.1', () => {
      clientSock = connect((tcp.address() as { port: number }).port, '127.0.0.1');
      client.connect({ sock: clientSock as never, username: 'u', password: 'p', hostVerifier: () => true, readyTimeout: 10_000 });
    });
  });
  let clientSock!: Socket;
  const client = new Client();
  client.on('error', () => {});
  const accepted: ClientChannel[] = [];
  const waiting: Array<(c: ClientChannel) => void> = [];
  client.on('custom channel', (_info, accept) => {
    const channel = accept();
    channel.on('error', () => {});
    const waiter = waiting.shift();
    if (waiter) waiter(channel);
    else accepted.push(channel);
  });
  const [conn] = await Promise.all([connReady, nextEvent(client, 'ready', 'the SSH client to be ready')]);
  const pair: Pair = {
    client,
    conn,
    clientSock,
    serverSock,
    channel: async () => {
      const clientSide = new Promise<ClientChannel>((resolve) => {
        const ready = accepted.shift();
        if (ready) resolve(ready);
        else waiting.push(resolve);
      });
      const server = await new Promise<ServerChannel>((resolve, reject) =>
        conn.openCustomChannel('kubesphere', Buffer.from('127.0.0.1:1'), (error, channel) => (error ? reject(error) : resolve(channel))),
      );
      server.on('error', () => {});
      return { server, client: await clientSide };
    },
    close: () => {
      client.end();
      clientSock.destroy();
      serverSock.destroy();
    },
  };
  pairs.push(pair);
  return pair;
}

/** `size` deterministic bytes in 64 KiB chunks, and their digest. */
function payload(size: number): { stream: () => Readable; sha256: string } {
  const chunk = (i: number) => Buffer.alloc(Math.min(64 * 1024, size - i * 64 * 1024), i % 251);
  const hash = createHash('sha256');
  const count = Math.ceil(size / (64 * 1024));
  for (let i = 0; i < count; i += 1) hash.update(chunk(i));
  return {
    sha256: hash.digest('hex'),
    stream: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < count; i += 1) yield chunk(i);
        })(),
      ),
  };
}

/** Everything `readable` delivers until it ends: size and digest. */
function drain(readable: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  return new Promise((resolve, reject) => {
    readable.on('data', (chunk: Buffer) => {
      size += chunk.length;
      hash.update(chunk);
    });
    readable.once('end', () => resolve({ size, sha256: hash.digest('hex') }));
    readable.once('error', reject);
  });
}

describe('ssh2 patch: flow control', { timeout: 60_000 }, () => {
  it('the server cuts off a client that sends beyond the window, naming the channel', async () => {
    const p = await sshPair();
    const { client } = await p.channel();
    const error = nextEvent<Error>(p.conn, 'error', 'the server to refuse the overrun');
    await floodChannel(p.client, client, p.clientSock, 8 * MiB, { timeoutMs: 10_000 });
    assert.match((await error).message, /^Peer sent \d+ bytes beyond the window on channel \d+ \(\d+ bytes, window \d+\); disconnecting$/);
    // ssh2 sends DISCONNECT and ends its side; the owner destroys the socket (ours do).
    assert.ok(p.serverSock.writableEnded, 'the server went on with the connection');
  });

  it('the client cuts off a server that sends beyond the window, naming the channel', async () => {
    const p = await sshPair();
    const { server } = await p.channel();
    const error = nextEvent<Error>(p.client, 'error', 'the client to refuse the overrun');
    await floodChannel(p.conn, server, p.serverSock, 8 * MiB, { timeoutMs: 10_000 });
    assert.match((await error).message, /^Peer sent \d+ bytes beyond the window on channel \d+/);
  });

  it('writes wait while the peer does not read, whatever window it granted; all arrives once it reads', async () => {
    const p = await sshPair();
    const { server, client } = await p.channel();
    grantHugeWindow(p.client, client);
    p.clientSock.pause(); // the client reads nothing from now on
    const data = payload(48 * MiB);
    let maxQueued = 0;
    let sent = 0;
    const source = data.stream();
    source.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      maxQueued = Math.max(maxQueued, p.serverSock.writableLength);
    });
    source.pipe(server);
    // Until the writer is held back for good (no progress for half a second).
    let last = -1;
    while (sent !== last) {
      last = sent;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(sent < 16 * MiB, `${(sent / MiB).toFixed(1)} MiB taken while the peer read nothing`);
    assert.ok(maxQueued < 256 * 1024, `${maxQueued} bytes queued in the socket`);
    const received = drain(client);
    p.clientSock.resume();
    assert.deepEqual(await received, { size: 48 * MiB, sha256: data.sha256 });
  });

  it('a reader that keeps up is re-granted once an eighth of its window is used, not half', async () => {
    const p = await sshPair();
    const { server, client } = await p.channel();
    const ends = client as unknown as { incoming: { window: number }; _towerWindow?: number };
    // The window left when each packet arrives (before the re-grant it may trigger), as a
    // share of the channel's window then (it may grow during the transfer).
    let lowest = 1;
    client.on('data', () => {
      const window = ends._towerWindow ?? 2 * MiB;
      lowest = Math.min(lowest, ends.incoming.window / window);
    });
    const data = payload(16 * MiB);
    const received = drain(client);
    data.stream().pipe(server);
    assert.deepEqual(await received, { size: 16 * MiB, sha256: data.sha256 });
    // 7/8 of the window, less the packet that arrived: ssh2 alone lets it fall to 1/2.
    assert.ok(lowest > 0.8, `the window fell to ${(lowest * 100).toFixed(1)} % before a re-grant`);
  });

  it('key exchanges during a transfer, from either side, lose nothing', async () => {
    const p = await sshPair();
    const { server, client } = await p.channel();
    const down = payload(24 * MiB);
    const up = payload(16 * MiB);
    const receivedDown = drain(client);
    const receivedUp = drain(server);
    down.stream().pipe(server);
    up.stream().pipe(client);
    let rekeys = 0;
    const timer = setInterval(() => {
      rekeys += 1;
      if (rekeys % 2) p.conn.rekey();
      else (p.client as unknown as { _protocol: { rekey(): void } })._protocol.rekey();
    }, 20);
    try {
      assert.deepEqual(await receivedDown, { size: 24 * MiB, sha256: down.sha256 });
      assert.deepEqual(await receivedUp, { size: 16 * MiB, sha256: up.sha256 });
    } finally {
      clearInterval(timer);
    }
    assert.ok(rekeys > 2, `only ${rekeys} key exchanges happened`);
  });

  it('a peer that keeps asking and never reads the answers stops being read', async (t) => {
    const p = await sshPair();
    p.clientSock.pause();
    let maxQueued = 0;
    // The kernel's loopback buffers absorb several MB of answers first (how many depends
    // on its autotuning), so ask until the server stops reading, or 32 MB of answers
    // (1M × 32 bytes) have been asked for: more than any socket buffer holds.
    let asked = 0;
    while (!p.serverSock.isPaused() && asked < 1_000_000) {
      for (let i = 0; i < 1000; i += 1) p.client.globalRequest('no-such-request@test', undefined, () => {});
      asked += 1000;
      await new Promise((resolve) => setImmediate(resolve));
      maxQueued = Math.max(maxQueued, p.serverSock.writableLength);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    maxQueued = Math.max(maxQueued, p.serverSock.writableLength);
    assert.ok(p.serverSock.isPaused(), `the server still reads a peer that reads nothing (${asked} requests, ${maxQueued} bytes queued)`);
    assert.ok(maxQueued < 2 * MiB, `${maxQueued} bytes of answers queued`);
    t.diagnostic(`paused after ${asked} requests; at most ${maxQueued} bytes of answers queued`);
  });

  it('a custom channel can be refused with a reason code and a description', async () => {
    const p = await sshPair();
    p.client.removeAllListeners('custom channel');
    p.client.on('custom channel', (_info, _accept, reject) => reject(4, 'agent has 3 channels open, its limit'));
    const error = await new Promise<Error & { reason?: number }>((resolve) =>
      p.conn.openCustomChannel('kubesphere', Buffer.from('x:1'), (e) => resolve(e as Error & { reason?: number })),
    );
    assert.equal(error.reason, 4);
    assert.match(error.message, /agent has 3 channels open, its limit/);
  });

  // docs/ssh2-patch.md, "Fairness between channels": what a bulk channel may have in
  // flight is a queue the other channels' bytes wait behind.
  it('while another channel moves data, a bulk channel is re-granted about one round trip; alone, its whole window', async () => {
    const p = await sshPair();
    // The path's smallest round trip, pinned to a LAN's (the server's own ping at ready can
    // time tens of ms on a loaded machine): the contended cap is then 128 KiB.
    Object.assign(p.conn, { _towerMinRtt: 1 });
    const cap = 128 * 1024;
    /** The bulk channel's window at each chunk after its first 4 MiB (its first grant used up). */
    const windowsDuring = async (contender: boolean) => {
      const bulk = await p.channel();
      const other = await p.channel();
      other.server.resume();
      let received = 0;
      const windows: number[] = [];
      bulk.server.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 4 * MiB) windows.push((bulk.server as unknown as { incoming: { window: number } }).incoming.window);
      });
      // The other transfer runs first and all along (until the bulk one is over, at most
      // 256 MiB): the bulk channel's bytes always arrive beside it.
      let bulkOver = false;
      let otherOver: Promise<unknown> | undefined;
      if (contender) {
        otherOver = new Promise((resolve) => other.server.once('end', resolve));
        const chunk = Buffer.alloc(64 * 1024, 7);
        Readable.from((function* () {
          for (let i = 0; i < 4096 && !bulkOver; i++) yield chunk;
        })()).pipe(other.client);
        await nextEvent(other.server, 'data', 'the other transfer to arrive');
      }
      const done = new Promise((resolve) => bulk.server.once('end', resolve));
      payload(12 * MiB).stream().pipe(bulk.client);
      await done;
      bulkOver = true;
      await otherOver;
      return windows.sort((a, b) => a - b);
    };
    const contended = await windowsDuring(true);
    const alone = await windowsDuring(false);
    // The median: a stall of this process longer than the contention memory may let a whole grant through.
    const median = contended[Math.floor(contended.length / 2)]!;
    assert.ok(median <= cap, `bulk channel's window ${median} bytes (median) while another channel moved data (cap ${cap})`);
    assert.ok(alone.at(-1)! >= MiB, `granted only ${alone.at(-1)} bytes to a transfer alone`);
  });
});
