/**
 * Two facts about ssh2's channels: how to really destroy one, and how to say why an open
 * failed.
 */
import { Duplex } from 'node:stream';
import type { ClientChannel, ServerChannel } from 'ssh2';

/**
 * ssh2's Channel#destroy() only ends and closes the SSH channel: it never marks the
 * stream destroyed, and a server channel then emits 'close' only after someone read the
 * rest of its data. A consumer that destroys it mid-response (a TLS socket or HTTP client
 * whose client went away) reads nothing more, so 'close' never came and the channel
 * stayed in the session's books. Make destroy() also destroy the Node stream (dropping
 * unread data), so the peer's CHANNEL_CLOSE ends it.
 */
export function trulyDestroyable<C extends ServerChannel | ClientChannel>(channel: C): C {
  const stream = channel as unknown as Duplex & { incoming: { state: string } };
  const sshDestroy = stream.destroy.bind(stream);
  let closeEmitted = false;
  stream.once('close', () => (closeEmitted = true));
  stream.destroy = function destroy() {
    if (stream.destroyed) return stream;
    // ssh2 already saw the channel close (the peer's CHANNEL_CLOSE, or the connection
    // died) and may be holding its 'close' until an 'end' that a destroyed stream never emits.
    const sshClosed = stream.incoming.state === 'closed';
    sshDestroy();
    // As ssh2's own destroy, ignore an error argument: no new 'error' event for consumers.
    Duplex.prototype.destroy.call(stream);
    if (sshClosed) process.nextTick(() => closeEmitted || stream.emit('close'));
    return stream;
  };
  return channel;
}

const OPEN_FAILURE_REASONS: Record<number, string> = {
  1: 'administratively prohibited',
  2: 'connect failed',
  3: 'unknown channel type',
  4: 'resource shortage',
};

/** ssh2 says "(SSH) Channel open failure: <description>"; ours sends no description, Go's does. */
export function openFailure(error: Error & { reason?: unknown }): string {
  const description = error.message.replace(/^\(SSH\) Channel open failure:\s*/, '').trim();
  return description || OPEN_FAILURE_REASONS[Number(error.reason)] || 'no reason given';
}
