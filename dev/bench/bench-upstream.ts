/**
 * The upstreams a benchmark measures against, on 127.0.0.1: an HTTPS "member apiserver"
 * (its own CA; admits `Authorization: Bearer <token>` or a client certificate its CA signed,
 * and asks every client for a certificate, as a kube-apiserver does), the same apiserver on a second
 * port speaking HTTP/2 and HTTP/1.1 (ALPN h2, http/1.1; as a real kube-apiserver does),
 * and a plain-HTTP ks-apiserver stand-in. All serve `GET /bytes?n=N` (N bytes, streamed
 * with backpressure), a 1 KiB `GET /version` and `GET /watch` (one watch event at once,
 * then the response stays open until the client goes).
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createSelfSignedCa, importCa, issueClientCert, issueServingCert, type CaPem, type IssuedCert } from '../../src/pki/index.js';

/** Size of the `/version` body: the "1 KB GET" of the benchmark. */
export const SMALL_BODY_BYTES = 1024;
/** Largest `/bytes` a request may ask for. */
const MAX_BYTES = 16 * 1024 ** 3;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

export interface BenchUpstream {
  /** HTTPS port of the member apiserver. */
  readonly kubePort: number;
  /** HTTP port of the ks-apiserver stand-in. */
  readonly ksPort: number;
  /** HTTPS port of the same member apiserver with HTTP/2 (and HTTP/1.1) by ALPN. */
  readonly kubeH2Port: number;
  /** TCP connections open right now at each server. */
  openConnections(): { readonly kube: number; readonly ks: number; readonly kubeH2: number };
  readonly memberCa: CaPem;
  readonly bearerToken: string;
  /** Signed by the member CA: a client that authenticates to the kube port with a certificate instead of the token. */
  readonly memberClient: IssuedCert;
  close(): Promise<void>;
}

export async function startBenchUpstream(): Promise<BenchUpstream> {
  const memberCa = await createSelfSignedCa({ commonName: 'bench-member-ca' });
  const memberIssuer = await importCa(memberCa);
  const serving = await issueServingCert(memberIssuer, { hosts: ['127.0.0.1'] });
  const memberClient = await issueClientCert(memberIssuer, { commonName: 'bench-member-admin', organizations: ['system:masters'] });
  const bearerToken = randomBytes(24).toString('hex');
  const versionBody = versionJson();

  const handle = (authorized: (req: IncomingMessage) => boolean) => (req: IncomingMessage, res: ServerResponse) => {
    if (!authorized(req)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401,"reason":"Unauthorized"}');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (req.method === 'GET' && url.pathname === '/version') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(versionBody.length) }).end(versionBody);
    } else if (req.method === 'GET' && url.pathname === '/bytes') {
      const n = Number(url.searchParams.get('n') ?? '0');
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BYTES) return void res.writeHead(400).end('bad n\n');
      sendBytes(res, n);
    } else if (req.method === 'GET' && url.pathname === '/watch') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(WATCH_EVENT);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
    }
  };

  const withToken = handle((req) => req.headers.authorization === `Bearer ${bearerToken}`);
  const withTokenOrCert = handle((req) => req.headers.authorization === `Bearer ${bearerToken}` || (req.socket as TLSSocket).authorized);
  // Asks for a certificate and verifies one if given (a token client sends none and pays nothing for it).
  const kube = createHttpsServer({ cert: serving.certPem, key: serving.keyPem, ca: memberCa.certPem, requestCert: true, rejectUnauthorized: false }, withTokenOrCert);
  // The HTTP/2 compatibility API has the methods the handler uses (writeHead, write, end, drain, close).
  const kubeH2 = createSecureServer({ cert: serving.certPem, key: serving.keyPem, allowHTTP1: true }, (req: Http2ServerRequest, res: Http2ServerResponse) =>
    withToken(req as unknown as IncomingMessage, res as unknown as ServerResponse),
  );
  const ks = createHttpServer(handle(() => true));
  const closers = await Promise.all([listen(kube), listen(ks), listen(kubeH2)]);
  return {
    kubePort: closers[0].port,
    ksPort: closers[1].port,
    kubeH2Port: closers[2].port,
    openConnections: () => ({ kube: closers[0].connections(), ks: closers[1].connections(), kubeH2: closers[2].connections() }),
    memberCa,
    bearerToken,
    memberClient,
    close: async () => void (await Promise.all(closers.map((c) => c.close()))),
  };
}

const WATCH_EVENT = `${JSON.stringify({ type: 'ADDED', object: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'bench', namespace: 'default', resourceVersion: '1' } } })}\n`;

function sendBytes(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(CHUNK.length, total - sent);
      sent += n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  res.on('close', () => (sent = total));
  pump();
}

/** A Kubernetes-like version object padded to exactly SMALL_BODY_BYTES. */
function versionJson(): Buffer {
  const base = { major: '1', minor: '32', gitVersion: 'v1.32.0-bench', platform: 'linux/amd64', padding: '' };
  const length = Buffer.byteLength(JSON.stringify(base));
  return Buffer.from(JSON.stringify({ ...base, padding: 'x'.repeat(SMALL_BODY_BYTES - length) }));
}

async function listen(server: Server | NetServer): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    connections: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
