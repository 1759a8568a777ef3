import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

/** What each side of a TLS handshake saw. */
export interface HandshakeOutcome {
  server: { ok: true; peerCN: string | undefined } | { ok: false; error: string };
  client: { ok: true } | { ok: false; error: string };
}

interface Credentials {
  certPem?: string;
  keyPem?: string;
  caPem: string;
}

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `${e.code ?? ''} ${e.message ?? String(err)}`.trim();
}

/**
 * One mutual-TLS exchange on 127.0.0.1: the server requires and verifies a
 * client certificate; on success it sends "ok" and the client must read it.
 * Everything it opens is closed before it returns.
 */
export async function mutualTlsHandshake(
  server: Required<Credentials>,
  client: Credentials & { servername?: string },
): Promise<HandshakeOutcome> {
  const srv = tls.createServer({
    cert: server.certPem,
    key: server.keyPem,
    ca: server.caPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const serverSide = new Promise<HandshakeOutcome['server']>((resolve) => {
    srv.on('secureConnection', (socket) => {
      const peer = socket.getPeerCertificate();
      socket.on('error', () => {});
      socket.end('ok');
      resolve({ ok: true, peerCN: typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined });
    });
    srv.on('tlsClientError', (err) => resolve({ ok: false, error: errorText(err) }));
    // Fallback if neither fires: the connection closed before a handshake ended.
    srv.on('connection', (raw) => raw.on('close', () => resolve({ ok: false, error: 'closed without a verified handshake' })));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;

  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ca: client.caPem,
    ...(client.certPem ? { cert: client.certPem } : {}),
    ...(client.keyPem ? { key: client.keyPem } : {}),
    ...(client.servername ? { servername: client.servername } : {}),
  });
  const clientSide = new Promise<HandshakeOutcome['client']>((resolve) => {
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received === 'ok') resolve({ ok: true });
    });
    socket.on('error', (err) => resolve({ ok: false, error: errorText(err) }));
    socket.on('close', () => resolve({ ok: false, error: 'closed without data' }));
  });

  const clientResult = await clientSide;
  socket.destroy();
  const serverResult = await serverSide;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return { server: serverResult, client: clientResult };
}
