/**
 * A delaying TCP relay, standing in for a long network path (this kernel has no netem):
 * every chunk read from one side is written to the other `delayMs` later (RTT ÷ 2), in
 * order, in both directions. It reads as fast as its sides send and holds up to `capBytes`
 * per direction of each connection (held + not yet written), so it is not the bottleneck
 * unless `maxHeldBytes` reaches the cap: then it stops reading that side until half of
 * the cap has gone out.
 *
 * What it models: propagation delay, no loss, no bandwidth limit. The relay acknowledges
 * locally, so the endpoints' own TCP windows never see the delay: a plain TCP stream
 * through it behaves like a well-tuned long fat pipe, and what the delay limits is the
 * windows above TCP (SSH channel windows, HTTP/2 flow control, request/response turns).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface RelayStats {
  readonly connections: number;
  /** Bytes relayed client → target and target → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Most bytes one direction of one connection held at once. */
  readonly maxHeldBytes: number;
  /** Times a side was paused because its direction reached the cap. */
  readonly capPauses: number;
}

export interface RelayOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  /** One-way delay: RTT ÷ 2. */
  readonly delayMs: number;
  readonly capBytes: number;
}

export interface Relay {
  readonly port: number;
  stats(): RelayStats;
  close(): Promise<void>;
}

export async function startRelay(options: RelayOptions, host = '127.0.0.1'): Promise<Relay> {
  const sockets = new Set<Socket>();
  const stats = { connections: 0, bytesUp: 0, bytesDown: 0, maxHeldBytes: 0, capPauses: 0 };
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections += 1;
    const target = connect({ host: options.targetHost, port: options.targetPort, allowHalfOpen: true, noDelay: true });
    for (const s of [client, target]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        target.destroy();
      });
      s.once('close', () => {
        client.destroy();
        target.destroy();
      });
    }
    relayOneWay(client, target, options, stats, (n) => (stats.bytesUp += n));
    relayOneWay(target, client, options, stats, (n) => (stats.bytesDown += n));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stats: () => ({ ...stats }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function relayOneWay(
  from: Socket,
  to: Socket,
  options: RelayOptions,
  stats: { maxHeldBytes: number; capPauses: number },
  count: (n: number) => void,
): void {
  const queue: Array<{ chunk: Buffer; due: number }> = [];
  let head = 0;
  let held = 0;
  let paused = false;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const pending = () => held + to.writableLength;
  const maybeResume = () => {
    if (paused && pending() <= options.capBytes / 2) {
      paused = false;
      from.resume();
    }
  };
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (head < queue.length && queue[head]!.due <= now) {
      const { chunk } = queue[head]!;
      queue[head++] = undefined as never;
      held -= chunk.length;
      count(chunk.length);
      to.write(chunk);
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
      if (ended) to.end();
    } else {
      if (head > 1024 && head > queue.length / 2) {
        queue.splice(0, head);
        head = 0;
      }
      timer = setTimeout(flush, Math.max(0, queue[head]!.due - now));
    }
    maybeResume();
  };
  to.on('drain', maybeResume);
  from.on('data', (chunk: Buffer) => {
    if (options.delayMs <= 0 && head === queue.length) {
      count(chunk.length);
      to.write(chunk);
    } else {
      queue.push({ chunk, due: performance.now() + options.delayMs });
      held += chunk.length;
      timer ??= setTimeout(flush, options.delayMs);
    }
    const now = pending();
    if (now > stats.maxHeldBytes) stats.maxHeldBytes = now;
    if (!paused && now > options.capBytes) {
      paused = true;
      stats.capPauses += 1;
      from.pause();
    }
  });
  from.once('end', () => {
    ended = true;
    if (head === queue.length) to.end();
  });
}
