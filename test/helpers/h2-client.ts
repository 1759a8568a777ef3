/**
 * A Node `http2` client of a kube listener for tests: one connection (session) with the
 * proxy-CA client certificate, requests as streams, bodies collected or hashed. Every wait
 * is bounded; `close()` ends the session.
 */
import { createHash } from 'node:crypto';
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { CaPem, IssuedCert } from '../../src/pki/index.js';
import { nextEvent } from './wait.js';

export interface H2Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface H2Client {
  readonly session: ClientHttp2Session;
  /** The ALPN protocol TLS agreed on. */
  readonly alpn: string | undefined;
  /** A whole request: status, headers and body (bounded by `timeoutMs`). */
  get(path: string, headers?: OutgoingHttpHeaders, timeoutMs?: number): Promise<H2Response>;
  /** A stream whose headers arrived; the caller reads its body. */
  open(path: string, headers?: OutgoingHttpHeaders): Promise<{ stream: ClientHttp2Stream; status: number; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export interface H2Target {
  readonly port: number;
  readonly ca: CaPem;
  readonly client: IssuedCert;
}

export async function connectH2(target: H2Target, settings: { readonly maxConcurrentStreams?: number } = {}): Promise<H2Client> {
  const session = connect(`https://127.0.0.1:${target.port}`, {
    ca: target.ca.certPem,
    cert: target.client.certPem,
    key: target.client.keyPem,
    servername: 'localhost',
    ...(settings.maxConcurrentStreams ? { peerMaxConcurrentStreams: settings.maxConcurrentStreams } : {}),
  });
  session.on('error', () => {}); // seen per stream, or as 'close'
  await nextEvent(session, 'connect', 'the HTTP/2 connection to the kube listener');
  const open: H2Client['open'] = async (path, headers = {}) => {
    const stream = session.request({ ':path': path, ...headers });
    stream.on('error', () => {});
    const closedEarly = new Promise<never>((_, reject) => stream.once('close', () => reject(new Error(`${path}: stream closed before its headers (RST code ${stream.rstCode})`))));
    const response = await Promise.race([nextEvent<IncomingHttpHeaders>(stream, 'response', `the response headers of ${path}`), closedEarly]);
    return { stream, status: Number(response[':status']), headers: response };
  };
  return {
    session,
    alpn: session.alpnProtocol,
    open,
    get: async (path, headers = {}, timeoutMs = 20_000) => {
      const { stream, status, headers: responseHeaders } = await open(path, headers);
      const body = await readAll(stream, timeoutMs, path);
      return { status, headers: responseHeaders, body };
    },
    close: async () => {
      if (session.destroyed) return;
      const closed = nextEvent(session, 'close', 'the HTTP/2 session to close');
      session.close();
      await closed.catch(() => session.destroy());
    },
  };
}

/** The whole body of a stream (bounded), failing if the stream was reset. */
export function readAll(stream: ClientHttp2Stream, timeoutMs: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => (stream.close(), reject(new Error(`${what}: body not complete within ${timeoutMs} ms`))), timeoutMs);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => (clearTimeout(timer), resolve(Buffer.concat(chunks))));
    stream.once('close', () => {
      clearTimeout(timer);
      if (stream.rstCode) reject(new Error(`${what}: stream reset (code ${stream.rstCode})`));
    });
  });
}

/** Length and sha256 of a stream's body as it flows (nothing kept). */
export function digestOf(stream: ClientHttp2Stream, timeoutMs: number, what: string): Promise<{ length: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const digest = createHash('sha256');
    let length = 0;
    const timer = setTimeout(() => (stream.close(), reject(new Error(`${what}: body not complete within ${timeoutMs} ms`))), timeoutMs);
    stream.on('data', (chunk: Buffer) => {
      digest.update(chunk);
      length += chunk.length;
    });
    stream.once('end', () => (clearTimeout(timer), resolve({ length, sha256: digest.digest('hex') })));
    stream.once('close', () => {
      clearTimeout(timer);
      if (stream.rstCode) reject(new Error(`${what}: stream reset (code ${stream.rstCode}) after ${length} bytes`));
    });
  });
}
