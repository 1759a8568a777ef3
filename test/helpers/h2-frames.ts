/**
 * A raw HTTP/2 peer for hostile tests: TLS with ALPN h2 and a client certificate, then
 * frames written by hand — what no well-behaved client library would send (more streams
 * than allowed, floods of PING, SETTINGS or RST_STREAM, endless CONTINUATION, extended
 * CONNECT unasked). Header blocks use HPACK literals without indexing (RFC 7541 §6.2.2),
 * which any decoder must accept. Frames from the server are parsed far enough to see
 * their type, stream and error code.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { CaPem, IssuedCert } from '../../src/pki/index.js';
import { nextEvent } from './wait.js';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  /** RST_STREAM's and GOAWAY's error code. */
  readonly errorCode?: number;
}

export interface RawH2 {
  readonly socket: TLSSocket;
  readonly received: ReceivedFrame[];
  /** Bytes written so far. */
  readonly sent: () => number;
  write(frame: Buffer): boolean;
  /** Resolves once a received frame matches (bounded); rejects if the connection closes first. */
  waitFrame(match: (f: ReceivedFrame) => boolean, what: string, timeoutMs?: number): Promise<ReceivedFrame>;
  readonly closed: Promise<void>;
  destroy(): void;
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, flags = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [flags | value];
  const bytes = [flags | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** A header block of literal fields without indexing, new names. */
export function headerBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7)]), n, Buffer.from(hpackInt(v.length, 7)), v);
  }
  return Buffer.concat(parts);
}

/** A GET's pseudo-headers for `path`. */
export function getFields(path: string): Array<[string, string]> {
  return [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', 'localhost'],
    [':path', path],
  ];
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]> = []): Buffer {
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, payload);
}

export function rstFrame(streamId: number, code = 0x8 /* CANCEL */): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export interface RawH2Options {
  /** Acknowledge the server's SETTINGS, as every client must (default true). */
  readonly ackSettings?: boolean;
}

export async function connectRawH2(target: { port: number; ca: CaPem; client: IssuedCert }, options: RawH2Options = {}): Promise<RawH2> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: target.port,
    ca: target.ca.certPem,
    cert: target.client.certPem,
    key: target.client.keyPem,
    servername: 'localhost',
    ALPNProtocols: ['h2'],
  });
  socket.on('error', () => {});
  await nextEvent(socket, 'secureConnect', 'TLS to the kube listener');
  if (socket.alpnProtocol !== 'h2') throw new Error(`the kube listener chose ${socket.alpnProtocol || 'no protocol'}, not h2`);
  const received: ReceivedFrame[] = [];
  const waiters = new Set<() => void>();
  let pending = Buffer.alloc(0);
  let sent = 0;
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      const type = pending.readUInt8(3);
      const payload = pending.subarray(9, 9 + length);
      const errorCode = type === FRAME.RST_STREAM ? payload.readUInt32BE(0) : type === FRAME.GOAWAY ? payload.readUInt32BE(4) : undefined;
      const flags = pending.readUInt8(4);
      received.push({ type, flags, streamId: pending.readUInt32BE(5) & 0x7fffffff, ...(errorCode === undefined ? {} : { errorCode }) });
      if (type === FRAME.SETTINGS && !(flags & FLAG.ACK) && options.ackSettings !== false) write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      pending = pending.subarray(9 + length);
    }
    for (const wake of waiters) wake();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => {
    for (const wake of waiters) wake();
  });
  const write = (bytes: Buffer) => {
    sent += bytes.length;
    return socket.write(bytes);
  };
  write(Buffer.concat([PREFACE, settingsFrame()]));
  return {
    socket,
    received,
    sent: () => sent,
    write,
    waitFrame: (match, what, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find(match);
          if (found) return done(() => resolve(found));
          if (socket.destroyed) done(() => reject(new Error(`connection closed before ${what}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
    closed,
    destroy: () => socket.destroy(),
  };
}
