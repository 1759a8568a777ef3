/**
 * The tiny member upstreams of a soak run, on 127.0.0.1: an HTTPS "kube-apiserver" (its
 * own CA, requires `Authorization: Bearer <token>`) and a plain-HTTP ks-apiserver. Both
 * serve `GET /version` (small JSON), `GET /bytes?n=N`, `GET /watch?events=N&intervalMs=M`
 * (N newline-delimited events, M ms apart, then the end) and echo connection upgrades.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSelfSignedCa, importCa, issueServingCert, type CaPem } from '../../src/pki/index.js';

/** Limits of what a request may ask for. */
export const UPSTREAM_LIMITS = { maxBytes: 1024 * 1024, maxEvents: 100, maxIntervalMs: 1_000 } as const;

export const VERSION_BODY = Buffer.from(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0-soak', padding: 'x'.repeat(900) }));

export interface SoakUpstream {
  readonly kubePort: number;
  readonly ksPort: number;
  readonly memberCa: CaPem;
  readonly bearerToken: string;
  /** Connections open on both servers right now. */
  openSockets(): number;
  close(): Promise<void>;
}

export async function startSoakUpstream(): Promise<SoakUpstream> {
  const memberCa = await createSelfSignedCa({ commonName: 'soak-member-ca' });
  const serving = await issueServingCert(await importCa(memberCa), { hosts: ['127.0.0.1'] });
  const bearerToken = randomBytes(24).toString('hex');
  const kubeAuthorized = (req: IncomingMessage) => req.headers.authorization === `Bearer ${bearerToken}`;

  const kube = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, handler(kubeAuthorized));
  kube.on('upgrade', upgradeEcho(kubeAuthorized));
  const ks = createHttpServer(handler(() => true));
  ks.on('upgrade', upgradeEcho(() => true));
  const [k, s] = await Promise.all([listen(kube), listen(ks)]);
  return {
    kubePort: k.port,
    ksPort: s.port,
    memberCa,
    bearerToken,
    openSockets: () => k.sockets.size + s.sockets.size,
    close: async () => void (await Promise.all([k.close(), s.close()])),
  };
}

function handler(authorized: (req: IncomingMessage) => boolean) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!authorized(req)) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
    const url = new URL(req.url ?? '/', 'http://upstream');
    const int = (name: string, max: number) => Math.min(max, Math.max(0, Math.floor(Number(url.searchParams.get(name) ?? '0')) || 0));
    if (req.method === 'GET' && url.pathname === '/version') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(VERSION_BODY.length) }).end(VERSION_BODY);
    } else if (req.method === 'GET' && url.pathname === '/bytes') {
      const n = int('n', UPSTREAM_LIMITS.maxBytes);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) }).end(Buffer.alloc(n, 0x61));
    } else if (req.method === 'GET' && url.pathname === '/watch') {
      watch(res, int('events', UPSTREAM_LIMITS.maxEvents), int('intervalMs', UPSTREAM_LIMITS.maxIntervalMs));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
    }
  };
}

/** A watch-like stream: `events` lines, `intervalMs` apart, flushed one by one, then the end. */
function watch(res: ServerResponse, events: number, intervalMs: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  const next = () => {
    if (sent >= events) return void res.end();
    sent += 1;
    res.write(`${JSON.stringify({ type: 'MODIFIED', object: { kind: 'ConfigMap', metadata: { resourceVersion: String(sent) } } })}\n`);
    timer = setTimeout(next, intervalMs);
  };
  res.once('close', () => clearTimeout(timer));
  next();
}

/** Answer 101 and echo every byte back. */
function upgradeEcho(authorized: (req: IncomingMessage) => boolean) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (!authorized(req)) return void socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${String(req.headers.upgrade ?? 'echo')}\r\nConnection: Upgrade\r\n\r\n`);
    if (head.length) socket.write(head);
    socket.pipe(socket);
  };
}

async function listen(server: Server): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
