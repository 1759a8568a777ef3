/**
 * The SSH side of one agent session on the proxy: an ssh2 server connection over the
 * agent's WebSocket stream. Authentication is the Go tower's formality (any password);
 * the real check is the `config` request. Channels the agent tries to open are refused.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type Connection } from 'ssh2';

// ssh2 is CommonJS: take its classes from the default export.
const { Server } = ssh2;
import type { Logger } from '../../log.js';
import type { AgentSessionEvent, SshCommand } from '../../machines/agent-session.js';
import type { SshRun } from './ssh-run.js';
import type { AgentConfig } from '../../protocol/agent-config.js';
import { CHANNEL_TYPE, CONFIG_REQUEST, IDENT_SERVER, PING_REQUEST } from '../../protocol/constants.js';
import '../../protocol/ssh2-extensions.js';
import { parsedHostKey } from '../../protocol/parsed-host-key.js';
import type { ChannelOpener } from './channel-opener.js';
import type { ConfigVerdict } from './config-check.js';
import { decideConfig } from './config-decision.js';
import { openFailure, trulyDestroyable } from './ssh-channel.js';

export interface SessionSshDeps {
  readonly stream: Duplex;
  readonly hostKey: Buffer;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  readonly logger: Logger;
  readonly verify: (config: AgentConfig) => ConfigVerdict;
  /** Called once the config is accepted, before the machine hears of it. */
  readonly onAccepted: (open: ChannelOpener, config: AgentConfig, verdict: Extract<ConfigVerdict, { ok: true }>) => void;
}

/** Channels on an ssh2 connection of this thread. */
export function inlineChannelOpener(connection: Connection): ChannelOpener {
  return (target, done) =>
    connection.openCustomChannel(CHANNEL_TYPE, Buffer.from(target, 'latin1'), (error, channel) =>
      error ? done(new Error(openFailure(error))) : done(undefined, trulyDestroyable(channel)),
    );
}

export function sessionSshRun(deps: SessionSshDeps): SshRun {
  return ({ sendBack, receive }) => {
    const log = deps.logger;
    let connection: Connection | undefined;
    let closed = false;
    let configSeen = false;
    const reportClosed = (reason: string) => {
      if (closed) return;
      closed = true;
      sendBack({ type: 'ssh.closed', reason });
    };

    const server = new Server(
      {
        hostKeys: [{ key: parsedHostKey(deps.hostKey) }],
        identRaw: IDENT_SERVER,
        keepaliveInterval: deps.keepaliveIntervalMs,
        keepaliveCountMax: deps.keepaliveCountMax,
      },
      (conn) => {
        connection = conn;
        conn.on('authentication', (ctx) => {
          // Go agents try `none` first, then password "" — offer password, accept any.
          if (ctx.method === 'password') ctx.accept();
          else ctx.reject(['password']);
        });
        conn.on('ready', () => sendBack({ type: 'ssh.ready' }));
        conn.on('custom request', (accept, reject, name, data) => {
          if (name === PING_REQUEST) return accept?.();
          if (name !== CONFIG_REQUEST) return reject?.();
          if (configSeen) return reject?.(Buffer.from('config already received'));
          configSeen = true;
          const decision = decideConfig(data, deps.verify, log);
          if (!decision.ok) {
            reject?.(Buffer.from(decision.reason));
            sendBack({ type: 'config.rejected', reason: decision.reason });
            return;
          }
          const { config, verdict } = decision;
          deps.onAccepted(inlineChannelOpener(conn), config, verdict);
          accept?.();
          sendBack({
            type: 'config.accepted',
            clusterName: verdict.cluster.name,
            allowedTargets: [verdict.kubernetesTarget, verdict.kubesphereTarget],
          });
        });
        const refuseChannel = (kind: string) => (_accept: unknown, reject: () => void) => {
          log.warn({ kind }, 'Agent tried to open a channel; refused (only the proxy opens channels)');
          reject();
        };
        conn.on('session', refuseChannel('session'));
        conn.on('tcpip', refuseChannel('direct-tcpip'));
        conn.on('error', (error) => reportClosed(`SSH: ${error.message}`));
        conn.on('end', () => reportClosed('agent disconnected'));
        conn.on('close', () => reportClosed('agent disconnected'));
      },
    );
    // The WebSocket stream only ends its readable side when the socket closes; either
    // event means the agent is gone. Before an identification line ssh2 swallows its own
    // errors (bytes that are not SSH) and just ends the stream: say so, not "disconnected".
    const streamGone = () =>
      reportClosed(connection ? 'agent disconnected' : 'connection closed before a valid SSH identification line (not an SSH peer?)');
    deps.stream.on('end', streamGone);
    deps.stream.on('close', streamGone);
    deps.stream.on('error', () => {});
    server.injectSocket(deps.stream as never);

    receive((command) => {
      if (command.type !== 'close') return;
      if (connection) connection.end();
      deps.stream.destroy();
    });
    return () => {
      closed = true;
      connection?.end();
      deps.stream.destroy();
    };
  };
}
