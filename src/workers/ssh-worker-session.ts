/**
 * One agent session inside a data-plane worker: the same ssh2 server as the inline engine
 * (src/actors/proxy/session-ssh.ts), over the agent's bytes relayed from the main thread.
 * What needs the proxy's state goes back to the main thread: the `config` payload (the main
 * thread verifies it and answers), the session's events, and log lines. `ping` is
 * answered here. Channels the main thread asks for are opened here and relayed over a
 * MessagePort each.
 */
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import type { MessagePort } from 'node:worker_threads';
import { CHANNEL_TYPE, CONFIG_REQUEST, IDENT_SERVER, PING_REQUEST } from '../protocol/constants.js';
import '../protocol/ssh2-extensions.js';
import { parsedHostKey } from '../protocol/parsed-host-key.js';
import { openFailure, trulyDestroyable } from '../actors/proxy/ssh-channel.js';
import { PortDuplex } from './port-duplex.js';
import type { FromSshWorker, ToSshWorker, WorkerLogLevel } from './ssh-worker-messages.js';

// ssh2 is CommonJS: take its classes from the default export.
const { Server } = ssh2;

type SessionStart = Extract<ToSshWorker, { t: 'session' }>;
/** A message to the main thread, without the session id (added by the session). */
type Outgoing = FromSshWorker extends infer M ? (M extends { sid: number } ? Omit<M, 'sid'> : never) : never;

interface PendingVerdict {
  accept(): void;
  reject(message: Buffer): void;
}

export class WorkerSshSession {
  readonly #sid: number;
  readonly #post: (message: FromSshWorker) => void;
  readonly #socket: PortDuplex;
  readonly #channels = new Set<PortDuplex>();
  #connection: Connection | undefined;
  #pendingVerdict: PendingVerdict | undefined;
  #accepted = false;
  #closed = false;
  #tornDown = false;
  #configSeen = false;

  constructor(start: SessionStart, post: (message: FromSshWorker) => void, private readonly onGone: () => void) {
    this.#sid = start.sid;
    this.#post = post;
    const socket = (this.#socket = new PortDuplex(start.socket));
    const server = new Server(
      {
        hostKeys: [{ key: parsedHostKey(Buffer.from(start.hostKey.buffer, start.hostKey.byteOffset, start.hostKey.byteLength)) }],
        identRaw: IDENT_SERVER,
        keepaliveInterval: start.keepaliveIntervalMs,
        keepaliveCountMax: start.keepaliveCountMax,
      },
      (conn) => this.#onConnection(conn),
    );
    // As inline: either end of the relayed stream means the agent is gone; before an
    // identification line ssh2 swallows its own errors and just ends the stream.
    const streamGone = () =>
      this.#reportClosed(
        this.#connection ? 'agent disconnected' : 'connection closed before a valid SSH identification line (not an SSH peer?)',
      );
    socket.on('end', streamGone);
    socket.on('close', streamGone);
    socket.on('error', () => {});
    server.injectSocket(socket as never);
  }

  /** The main thread's answer to `config`. */
  verdict(ok: boolean, message: string | undefined): void {
    const pending = this.#pendingVerdict;
    this.#pendingVerdict = undefined;
    if (!pending) return;
    if (ok) {
      this.#accepted = true;
      pending.accept();
    } else pending.reject(Buffer.from(message ?? 'rejected'));
  }

  /** Open a `kubesphere` channel to `target` and relay it over `port`. */
  open(ch: number, target: string, port: MessagePort): void {
    const relay = new PortDuplex(port);
    relay.on('error', () => {});
    const connection = this.#connection;
    if (!connection || !this.#accepted || this.#closed) {
      relay.destroy();
      return this.#send({ t: 'opened', ch, error: 'agent session is not serving' });
    }
    this.#channels.add(relay);
    relay.once('close', () => this.#channels.delete(relay));
    try {
      connection.openCustomChannel(CHANNEL_TYPE, Buffer.from(target, 'latin1'), (error, channel) => {
        if (error) {
          relay.destroy();
          return this.#send({ t: 'opened', ch, error: openFailure(error) });
        }
        pipeChannel(trulyDestroyable(channel), relay);
        this.#send({ t: 'opened', ch });
      });
    } catch (error) {
      // ssh2 throws when the connection is no longer writable.
      relay.destroy();
      this.#send({ t: 'opened', ch, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** The main thread ends the session. */
  close(): void {
    this.#teardown();
  }

  /**
   * As the inline engine when its actor stops: end SSH (its DISCONNECT still goes out
   * before the stream's end) and drop the stream and the channels. Once.
   */
  #teardown(): void {
    if (this.#tornDown) return;
    this.#tornDown = true;
    this.#connection?.end();
    const socket = this.#socket;
    socket.end();
    setImmediate(() => socket.destroy());
    for (const relay of this.#channels) relay.destroy();
    this.#channels.clear();
    this.onGone();
  }

  #onConnection(conn: Connection): void {
    this.#connection = conn;
    conn.on('authentication', (ctx) => {
      // Go agents try `none` first, then password "" — offer password, accept any.
      if (ctx.method === 'password') ctx.accept();
      else ctx.reject(['password']);
    });
    conn.on('ready', () => this.#send({ t: 'ready' }));
    conn.on('custom request', (accept, reject, name, data) => {
      if (name === PING_REQUEST) return accept?.();
      if (name !== CONFIG_REQUEST) return reject?.();
      if (this.#configSeen) return reject?.(Buffer.from('config already received'));
      this.#configSeen = true;
      this.#pendingVerdict = { accept: () => accept?.(), reject: (message) => reject?.(message) };
      // A copy of its own: a view would carry ssh2's whole packet buffer across.
      this.#send({ t: 'config', payload: data ? new Uint8Array(data) : new Uint8Array(0) });
    });
    const refuseChannel = (kind: string) => (_accept: unknown, reject: () => void) => {
      this.#log('warn', 'Agent tried to open a channel; refused (only the proxy opens channels)', { kind });
      reject();
    };
    conn.on('session', refuseChannel('session'));
    conn.on('tcpip', refuseChannel('direct-tcpip'));
    conn.on('error', (error) => this.#reportClosed(`SSH: ${error.message}`));
    conn.on('end', () => this.#reportClosed('agent disconnected'));
    conn.on('close', () => this.#reportClosed('agent disconnected'));
  }

  /** Inline, the machine stops the ssh actor at once on `ssh.closed`: tear down here too. */
  #reportClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send({ t: 'closed', reason });
    this.#teardown();
  }

  #log(level: WorkerLogLevel, message: string, fields: Record<string, string | number | boolean>): void {
    this.#send({ t: 'log', level, message, fields });
  }

  #send(message: Outgoing): void {
    this.#post({ ...message, sid: this.#sid } as FromSshWorker);
  }
}

/**
 * Relay an SSH channel over a PortDuplex both ways, with backpressure each way (a full
 * relay pauses the channel, and so the agent's window). The channel ends as the relay
 * does; when the channel closes (the agent's CLOSE, or the connection died) the relay
 * closes gracefully: what was read still reaches the main thread, then it ends.
 */
function pipeChannel(channel: ServerChannel, relay: PortDuplex): void {
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
