/**
 * Entry of a data-plane worker thread (started by DataPlanePool): runs the SSH sessions
 * the main thread hands it, each an SshServerSession over the agent's bytes relayed on a
 * MessagePort of its own. What needs the proxy's state goes back to the main thread: the
 * `config` payload (the main thread verifies it and sends a verdict), the end, log lines.
 * Channels the main thread asks for are opened here and relayed over a MessagePort each.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import type { Duplex } from 'node:stream';
import { SshServerSession, type ConfigAnswer } from '../ssh/server-session.js';
import { errorMessage } from '../errors.js';
import { PortDuplex } from './port-duplex.js';
import type { FromDataPlane, ToDataPlane } from './data-plane-messages.js';

if (!parentPort) throw new Error('data-plane-thread.js runs as a worker thread (DataPlanePool starts it)');
const port = parentPort;
const post = (message: FromDataPlane) => port.postMessage(message);

interface ThreadSession {
  readonly ssh: SshServerSession;
  readonly relays: Set<PortDuplex>;
  answer: ConfigAnswer | undefined;
}
const sessions = new Map<number, ThreadSession>();

function start(message: Extract<ToDataPlane, { t: 'session' }>): void {
  const { sid } = message;
  const relays = new Set<PortDuplex>();
  const hostKey = Buffer.from(message.hostKey.buffer, message.hostKey.byteOffset, message.hostKey.byteLength);
  const session: ThreadSession = {
    relays,
    answer: undefined,
    ssh: new SshServerSession(
      new PortDuplex(message.socket),
      { hostKey, keepaliveIntervalMs: message.keepaliveIntervalMs, keepaliveCountMax: message.keepaliveCountMax },
      {
        ready: () => post({ t: 'ready', sid }),
        config: (payload, answer) => {
          session.answer = answer;
          // A copy of its own: a view would carry ssh2's whole packet buffer across.
          post({ t: 'config', sid, payload: new Uint8Array(payload) });
        },
        closed: (reason) => {
          post({ t: 'closed', sid, reason });
          for (const relay of relays) relay.destroy();
          relays.clear();
          sessions.delete(sid);
        },
        log: (level, text, fields) => post({ t: 'log', sid, level, message: text, fields }),
      },
    ),
  };
  sessions.set(sid, session);
}

function open(message: Extract<ToDataPlane, { t: 'open' }>): void {
  const session = sessions.get(message.sid);
  const relay = new PortDuplex(message.port);
  relay.on('error', () => {});
  const opened = (error?: string) => post({ t: 'opened', sid: message.sid, ch: message.ch, ...(error === undefined ? {} : { error }) });
  if (!session) {
    relay.destroy();
    return opened('agent session ended');
  }
  session.relays.add(relay);
  relay.once('close', () => session.relays.delete(relay));
  session.ssh.openChannel(message.target, (error, channel) => {
    if (error || !channel) {
      relay.destroy();
      return opened(error ? errorMessage(error) : 'no channel');
    }
    pipeChannel(channel, relay);
    opened();
  });
}

port.on('message', (message: ToDataPlane) => {
  switch (message.t) {
    case 'session':
      return start(message);
    case 'verdict': {
      const session = sessions.get(message.sid);
      const answer = session?.answer;
      if (!session || !answer) return;
      session.answer = undefined;
      return message.ok ? answer.accept() : answer.reject(message.message ?? 'rejected');
    }
    case 'open':
      return open(message);
    case 'close':
      return sessions.get(message.sid)?.ssh.close();
  }
});

/**
 * Relay an SSH channel over a PortDuplex both ways, with backpressure each way (a full
 * relay pauses the channel, and so the agent's window). The channel ends as the relay
 * does; when the channel closes (the agent's CLOSE, or the connection died) the relay
 * closes gracefully: what was read still reaches the main thread, then it ends.
 */
function pipeChannel(channel: Duplex, relay: PortDuplex): void {
  channel.on('error', () => {});
  channel.pipe(relay);
  relay.pipe(channel);
  const finish = () => {
    if (relay.destroyed) return;
    if (relay.writableFinished) return void relay.destroy();
    relay.once('finish', () => relay.destroy());
    if (!relay.writableEnded) relay.end();
  };
  channel.once('close', finish);
  relay.once('close', () => channel.destroy());
}
