/**
 * The `ssh` actor of an agent session whose SSH engine runs in a data-plane worker
 * (`--data-plane-threads N`): same events and commands as the inline one (session-ssh.ts),
 * but the ssh2 server lives in a worker thread. This side relays the agent's WebSocket
 * bytes to it, verifies the `config` payload it forwards with the same `verify`, and hands
 * the session a channel opener whose streams come back over MessagePorts.
 */
import { fromCallback } from 'xstate';
import type { AgentSessionEvent, SshCommand } from '../../machines/agent-session.js';
import type { SshWorkerPool } from '../../workers/ssh-worker-pool.js';
import { decideConfig } from './config-decision.js';
import type { SessionSshDeps } from './session-ssh.js';

export interface WorkerSessionSshDeps extends SessionSshDeps {
  readonly pool: SshWorkerPool;
}

export function workerSessionSshLogic(deps: WorkerSessionSshDeps) {
  return fromCallback<SshCommand, void, AgentSessionEvent>(({ sendBack, receive }) => {
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
        closed: reportClosed,
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
    socket.once('close', () => stream.destroy());

    receive((command) => {
      if (command.type !== 'close') return;
      link.close();
      stream.destroy();
    });
    return () => {
      closed = true;
      link.release();
      stream.destroy();
      socket.destroy();
    };
  });
}
