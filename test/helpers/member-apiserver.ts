/**
 * A stand-in member kube-apiserver for tunnel tests: HTTPS with its own CA, checking a
 * bearer token or a client certificate like a real apiserver, with routes that exercise
 * what the tunnel must carry: small JSON, bulk random bytes, a watch stream, an echo of the
 * request body, and connection upgrades (SPDY/3.1 and WebSocket style) that echo bytes.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { createSelfSignedCa, importCa, issueClientCert, issueServingCert, type CaPem, type IssuedCert } from '../../src/pki/index.js';

export const MEMBER_TOKEN = 'member-sa-token-do-not-log';

export interface MemberApiserver {
  readonly port: number;
  readonly ca: CaPem;
  /** A client certificate the member accepts (for cert-mode agents). */
  readonly agentCert: IssuedCert;
  /** Authorization header and client-cert CN of every request seen. */
  readonly seen: Array<{ path: string; authorization?: string; clientCN?: string }>;
  /** Length and sha256 of every complete `/bytes` body sent (random bytes, new each time). */
  readonly bytesSent: Array<{ length: number; sha256: string }>;
  /**
   * Emits 'watch-open' when a watch starts (push events with sendWatchEvent), 'watch-closed'
   * when one ends, and 'bytes-cut' with the bytes sent when a `/bytes` response is closed
   * before its end.
   */
  readonly events: EventEmitter;
  sendWatchEvent(object: unknown): void;
  /** Open upstream sockets right now (to check nothing leaks). */
  readonly openSockets: () => number;
  /** Bearer tokens accepted in token mode (starts with MEMBER_TOKEN); edit to rotate. */
  readonly tokens: Set<string>;
  close(): Promise<void>;
}

export async function startMemberApiserver(auth: 'token' | 'cert' = 'token'): Promise<MemberApiserver> {
  const ca = await createSelfSignedCa({ commonName: 'member-ca' });
  const authority = await importCa(ca);
  const serving = await issueServingCert(authority, { hosts: ['127.0.0.1', 'localhost'] });
  const agentCert = await issueClientCert(authority, { commonName: 'tower-agent', organizations: ['system:masters'] });
  const seen: MemberApiserver['seen'] = [];
  const bytesSent: MemberApiserver['bytesSent'] = [];
  const events = new EventEmitter();
  const watchers = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const tokens = new Set([MEMBER_TOKEN]);

  const authorized = (req: IncomingMessage): boolean => {
    if (auth === 'token') return [...tokens].some((t) => req.headers.authorization === `Bearer ${t}`);
    return (req.socket as TLSSocket).authorized === true;
  };

  const server: Server = createServer(
    { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: auth === 'cert', rejectUnauthorized: false },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://member');
      const cn = (req.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN;
      const clientCN = Array.isArray(cn) ? cn[0] : cn;
      seen.push({ path: url.pathname, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(clientCN ? { clientCN } : {}) });
      if (!authorized(req)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401,"reason":"Unauthorized"}');
        return;
      }
      if (url.pathname === '/version') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0-member' }));
      } else if (url.pathname === '/bytes') {
        const total = Number(url.searchParams.get('n') ?? '0');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
        // A keystream of a random key: no two chunks alike, so a corrupted, lost, duplicated
        // or reordered chunk changes the digest.
        const keystream = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
        const zeros = Buffer.alloc(64 * 1024);
        const digest = createHash('sha256');
        let sent = 0;
        res.once('close', () => sent < total && events.emit('bytes-cut', sent));
        const pump = () => {
          while (sent < total) {
            const n = Math.min(zeros.length, total - sent);
            const chunk = keystream.update(zeros.subarray(0, n));
            digest.update(chunk);
            sent += n;
            // Recorded with the last write, not after its drain: the client (often in this
            // same process) can have every byte before the drain event comes.
            if (sent === total) bytesSent.push({ length: total, sha256: digest.digest('hex') });
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        if (total === 0) bytesSent.push({ length: 0, sha256: digest.digest('hex') });
        pump();
      } else if (url.pathname === '/echo') {
        res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
        req.pipe(res);
      } else if (url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        watchers.add(res);
        res.on('close', () => {
          watchers.delete(res);
          events.emit('watch-closed');
        });
        events.emit('watch-open');
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
      }
    },
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!authorized(req)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const protocol = String(req.headers.upgrade ?? '');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${protocol}\r\nConnection: Upgrade\r\n\r\n`);
    if (head.length) socket.write(head);
    socket.pipe(socket); // echo: whatever the client sends comes back
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    ca,
    agentCert,
    seen,
    bytesSent,
    events,
    sendWatchEvent: (object) => {
      for (const w of watchers) w.write(JSON.stringify({ type: 'ADDED', object }) + '\n');
    },
    openSockets: () => sockets.size,
    tokens,
    close: async () => {
      for (const w of watchers) w.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
