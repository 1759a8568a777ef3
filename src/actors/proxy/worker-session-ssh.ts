/**
 * The `ssh` actor of an agent session whose SSH engine runs in a data-plane worker
 * (`--data-plane-threads N`): same events and commands as the inline one (session-ssh.ts),
 * but the ssh2 server lives in a worker thread. This side relays the agent's WebSocket
 * bytes to it, verifies the `config` payload it forwards with the same `verify`, and hands
 * the session a channel opener whose streams come back over MessagePorts.
 */
import type { Duplex } from 'node:stream';
import type { AgentSessionEvent, SshCommand } from '../../machines/agent-session.js';
import type { SshRun } from './ssh-run.js';
import type { SshWorkerPool } from '../../workers/ssh-worker-pool.js';
import { decideConfig } from './config-decision.js';
import type { SessionSshDeps } from './session-ssh.js';

export interface WorkerSessionSshDeps extends SessionSshDeps {
  readonly pool: SshWorkerPool;
}

export function workerSessionSshRun(deps: WorkerSessionSshDeps): SshRun {
  return ({ sendBack, receive }) => {
    const log = deps.logger;
    let closed = false;
    const reportClosed = (reason: string) => {
      if (closed) return;
      closed = true;
      sendBack({ type: 'ssh.closed', reason });
    };
    const link = deps.pool.attach(
      { hostKey: deps.hostKey, keepaliveIntervalMs: deps.keepaliveIntervalMs, keepaliveCountMax: deps.keepaliveCountMax },
      {
        ready: () => sendBack({ type: 'ssh.ready' }),
        config: (payload) => {
          const decision = decideConfig(payload, deps.verify, log);
          if (!decision.ok) {
            link.reject(decision.reason);
            sendBack({ type: 'config.rejected', reason: decision.reason });
            return;
          }
          deps.onAccepted(link.openChannel, decision.config, decision.verdict);
          link.accept();
          sendBack({
            type: 'config.accepted',
            clusterName: decision.verdict.cluster.name,
            allowedTargets: [decision.verdict.kubernetesTarget, decision.verdict.kubesphereTarget],
          });
        },
        // The worker's last bytes (e.g. SSH's DISCONNECT) travel on the session's port and
        // may come after this: let them reach the agent before the session ends.
        closed: (reason) => afterWorkerBytes(link.socket, deps.stream, () => reportClosed(reason)),
        log: (level, message, fields) => log[level](fields, message),
      },
    );
    log.debug({ thread: link.threadId }, 'SSH session runs in a data-plane worker');

    // The WebSocket stays here; its bytes go to the worker and back. Either side going
    // away takes the other with it (the worker reports why).
    const stream = deps.stream;
    const socket = link.socket;
    stream.on('error', () => {});
    socket.on('error', () => {});
    stream.pipe(socket);
    socket.pipe(stream);
    stream.once('close', () => socket.destroy());
    socket.once('close', () => closeWebSocket(stream));

    // As inline (`connection.end()`, then drop the stream), but SSH's goodbye comes from
    // the worker: let it through before the WebSocket goes.
    receive((command) => {
      if (command.type !== 'close') return;
      link.close();
      afterWorkerBytes(socket, stream, () => stream.destroy());
    });
    return () => {
      closed = true;
      link.release();
      afterWorkerBytes(socket, stream, () => {
        closeWebSocket(stream);
        socket.destroy();
      });
    };
  };
}

/** Longest wait for a worker's last bytes after it reported its session closed (named limit). */
export const LAST_BYTES_WAIT_MS = 250;

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
