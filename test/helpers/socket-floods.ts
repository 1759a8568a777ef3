/**
 * Connection floods that cost the attacker almost nothing: sockets that never speak
 * (`idle`), that send a request the server refuses and then never read nor close
 * (`half-open`: the server's answer and FIN sit unread), and that trickle a request head
 * forever (`slowloris`). Over TLS for the kube listeners when `tls` is given (idle then
 * means no ClientHello at all). Every socket is destroyed by `close()`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export type FloodKind = 'idle' | 'half-open' | 'slowloris';

export interface FloodTls {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface SocketFloodOptions {
  readonly tls?: FloodTls;
  /** For `half-open`: what to send (default: a request every HTTP server refuses). */
  readonly request?: string;
  /** For `slowloris`: one header line this often (default 500 ms). */
  readonly trickleMs?: number;
  /** Connections being opened at once (default 100). */
  readonly batch?: number;
}

export interface SocketFlood {
  /** Connections that were established. */
  readonly opened: number;
  /** Connections that failed to establish (refused, reset during TLS, …). */
  readonly failed: number;
  /** Of the established ones, how many the server has closed so far (as far as we can see). */
  closedByServer(): number;
  close(): void;
}

/** A connection not established by then counts as failed. */
const CONNECT_TIMEOUT_MS = 5_000;
const BAD_REQUEST = 'BREW /pot HTCPCP/1.0 nonsense\r\n\r\n';

export async function socketFlood(port: number, count: number, kind: FloodKind, options: SocketFloodOptions = {}): Promise<SocketFlood> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let opened = 0;
  let failed = 0;
  let closed = 0;
  const batch = options.batch ?? 100;

  const openOne = () =>
    new Promise<void>((resolve) => {
      const useTls = Boolean(options.tls) && kind !== 'idle';
      const socket: Socket = useTls
        ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: options.tls!.ca, cert: options.tls!.cert, key: options.tls!.key })
        : netConnect({ host: '127.0.0.1', port });
      sockets.add(socket);
      let established = false;
      const giveUp = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
      socket.on('error', () => {});
      socket.once('close', () => {
        clearTimeout(giveUp);
        sockets.delete(socket);
        if (established) closed += 1;
        else {
          failed += 1;
          resolve();
        }
      });
      socket.once(useTls ? 'secureConnect' : 'connect', () => {
        clearTimeout(giveUp);
        established = true;
        opened += 1;
        behave(socket);
        resolve();
      });
    });

  const behave = (socket: Socket) => {
    if (kind === 'half-open') {
      socket.write(options.request ?? BAD_REQUEST);
      socket.pause(); // never read the answer, never close
    } else if (kind === 'slowloris') {
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n');
      let n = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) return void clearInterval(timer);
        socket.write(`X-Slow-${n++}: ${'a'.repeat(8)}\r\n`);
      }, options.trickleMs ?? 500);
      timers.add(timer);
      socket.once('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    }
    // idle: nothing at all
  };

  for (let started = 0; started < count; started += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - started) }, openOne));
  }
  return {
    opened,
    failed,
    closedByServer: () => closed,
    close: () => {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}
