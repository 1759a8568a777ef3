/**
 * Pre-authentication deadlines, as sshd's LoginGraceTime and Node's headersTimeout, but
 * ending with `destroy()`: a peer that has not sent its request head by the deadline, or
 * broke the protocol, loses its socket at once. (Node answers 408 and half-closes, which
 * leaves the descriptor to a peer that never reads.)
 */
import type { Duplex } from 'node:stream';

const deadlines = new WeakMap<Duplex, NodeJS.Timeout>();

/** Destroy `socket` unless `clearDeadline` is called within `ms`. */
export function armDeadline(socket: Duplex, ms: number): void {
  clearDeadline(socket);
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  deadlines.set(socket, timer);
  socket.once('close', () => clearDeadline(socket));
}

/** The peer did what was asked in time (its request head arrived). */
export function clearDeadline(socket: Duplex): void {
  clearTimeout(deadlines.get(socket));
  deadlines.delete(socket);
}

/** How long a refusal may take to reach a peer before its socket is destroyed anyway. */
const REFUSAL_FLUSH_MS = 1_000;

/**
 * Answer with a short HTTP response and destroy the socket once it is written (a peer
 * that never reads gets no lingering half-closed socket).
 */
export function refuseHttp(socket: Duplex, status: number, statusText: string, body: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) return void socket.destroy();
  const lines = Object.entries({ 'content-type': 'text/plain', ...headers, 'content-length': String(Buffer.byteLength(body) + 1), connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const timer = setTimeout(() => socket.destroy(), REFUSAL_FLUSH_MS);
  timer.unref();
  socket.write(`HTTP/1.1 ${status} ${statusText}\r\n${lines}\r\n${body}\n`, () => {
    clearTimeout(timer);
    socket.destroy();
  });
}
