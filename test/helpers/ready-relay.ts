/**
 * What a Kubernetes Service does for agents: each new connection goes to a backend that
 * answers `GET /readyz` with 200 (the replica that serves); none ready, the connection is
 * refused. Every connection it made is closed by `close()`.
 */
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';

export interface ReadyRelay {
  readonly port: number;
  /** The backend ports. */
  readonly backends: number[];
  close(): Promise<void>;
}

function ready(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startReadyRelay(backends: number[]): Promise<ReadyRelay> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = createServer((client) => {
    track(client);
    client.pause();
    void (async () => {
      for (const port of [...backends]) {
        if (!(await ready(port)) || client.destroyed) continue;
        const upstream = connect(port, '127.0.0.1');
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.resume();
        return;
      }
      client.destroy();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    backends,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
