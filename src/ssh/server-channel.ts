/**
 * Two facts about ssh2's channels: how to really destroy one, and how to say why an open
 * failed.
 */
import { Duplex } from 'node:stream';
import type { ClientChannel, ServerChannel } from 'ssh2';

/**
 * ssh2's Channel#destroy() only ends and closes the SSH channel: it never marks the
 * stream destroyed, and emits 'close' only once the peer's CHANNEL_CLOSE came and someone
 * read the rest of its data. A consumer that destroys it mid-response (a TLS socket or
 * HTTP client whose client went away) reads nothing more, and a frozen peer never answers,
 * so 'close' never came and the consumer waited (an HTTP request on a kept-alive channel
 * to a stopped agent hung until the whole session was dropped). Make destroy() do what a
 * Node stream's does: drop unread data and emit 'close' — once, whatever ssh2 emits when
 * the peer's CHANNEL_CLOSE arrives later.
 */
export function trulyDestroyable<C extends ServerChannel | ClientChannel>(channel: C): C {
  const stream = channel as unknown as Duplex;
  const sshDestroy = stream.destroy.bind(stream);
  const emit = stream.emit.bind(stream);
  let closeEmitted = false;
  stream.once('close', () => (closeEmitted = true));
  stream.destroy = function destroy() {
    if (stream.destroyed) return stream;
    sshDestroy();
    // As ssh2's own destroy, ignore an error argument: no new 'error' event for consumers.
    Duplex.prototype.destroy.call(stream);
    // From here on 'close' is emitted once: now, or already by ssh2.
    stream.emit = (event: string | symbol, ...args: unknown[]) => {
      if (event !== 'close') return emit(event, ...args);
      if (closeEmitted) return false;
      closeEmitted = true;
      return emit(event, ...args);
    };
    process.nextTick(() => stream.emit('close'));
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
