/**
 * The SSH engine of `--data-plane-threads N`: the SshServerSession runs in a data-plane
 * worker thread; this side relays the agent's WebSocket bytes to it and back, and hands
 * the proxy session the pool's channel opener (streams come back over MessagePorts).
 */
import type { Duplex } from 'node:stream';
import type { ServerSessionSpec } from '../../ssh/server-session.js';
import type { DataPlanePool } from '../../workers/data-plane-pool.js';
import type { SshEngine } from './ssh-engine.js';

/** Longest wait for a worker's last bytes after it reported its session closed (named limit). */
export const LAST_BYTES_WAIT_MS = 250;

export function threadEngine(pool: DataPlanePool, spec: ServerSessionSpec): SshEngine {
  return {
    start(stream, hooks) {
      const link = pool.attach(spec, {
        ...hooks,
        // The worker's last bytes (e.g. SSH's DISCONNECT) travel on the session's port and
        // may come after this: let them reach the agent before the session ends.
        closed: (reason) => afterWorkerBytes(link.socket, stream, () => hooks.closed(reason)),
      });
      hooks.log('debug', 'SSH session runs in a data-plane worker', { thread: link.threadId });
      // The WebSocket stays here; its bytes go to the worker and back. Either side going
      // away takes the other with it (the worker reports why).
      const socket = link.socket;
      stream.on('error', () => {});
      socket.on('error', () => {});
      stream.pipe(socket);
      socket.pipe(stream);
      stream.once('close', () => socket.destroy());
      socket.once('close', () => closeWebSocket(stream));
      return {
        openChannel: link.openChannel,
        close: () => {
          link.close();
          afterWorkerBytes(socket, stream, () => stream.destroy());
        },
        release: () => {
          link.release();
          afterWorkerBytes(socket, stream, () => {
            closeWebSocket(stream);
            socket.destroy();
          });
        },
      };
    },
  };
}

/** Run `then` once nothing more can come from the worker's socket, or the agent is gone. */
function afterWorkerBytes(socket: Duplex, stream: Duplex, then: () => void): void {
  const done = () => socket.readableEnded || socket.destroyed || stream.readableEnded || stream.destroyed;
  if (done()) return then();
  let timer: NodeJS.Timeout | undefined;
  const events = [
    [socket, 'end'],
    [socket, 'close'],
    [stream, 'end'],
    [stream, 'close'],
  ] as const;
  const finish = () => {
    clearTimeout(timer);
    for (const [emitter, event] of events) emitter.off(event, finish);
    then();
  };
  for (const [emitter, event] of events) emitter.once(event, finish);
  timer = setTimeout(finish, LAST_BYTES_WAIT_MS);
}

/**
 * End the WebSocket (a close frame, as when ssh2 ends its socket inline), then drop it on
 * the next turn of the loop. Dropping it at once, before the close frame, would leave
 * peers that wait for their stream's 'close' (ssh2's client over a WebSocket stream, when
 * no DISCONNECT reached it) without any word of the end.
 */
function closeWebSocket(stream: Duplex): void {
  if (stream.destroyed) return;
  stream.end();
  setImmediate(() => stream.destroy());
}
