/**
 * TCP servers an agent dials in the hostile-proxy tests, each with one behaviour:
 * `sink` accepts and never reads, `firehose` sends bytes as fast as the reader takes them,
 * `holder` reads and drops whatever comes and keeps the connection. `close()` destroys
 * every connection it accepted.
 */
import { createServer, type Server, type Socket } from 'node:net';

export type TargetKind = 'sink' | 'firehose' | 'holder';

export interface TcpTarget {
  readonly port: number;
  /** `127.0.0.1:<port>`, as an agent flag takes it. */
  readonly address: string;
  /** Connections open right now. */
  readonly open: () => number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  close(): Promise<void>;
}

const FIREHOSE_CHUNK = Buffer.alloc(64 * 1024, 0x66);

export async function startTcpTarget(kind: TargetKind): Promise<TcpTarget> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (kind === 'sink') socket.pause();
    else socket.resume();
    if (kind === 'firehose') {
      const pump = () => {
        while (!socket.destroyed && socket.write(FIREHOSE_CHUNK));
        if (!socket.destroyed) socket.once('drain', pump);
      };
      pump();
    }
  });
  server.maxConnections = 20_000;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 8192 }, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    address: `127.0.0.1:${port}`,
    open: () => sockets.size,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
