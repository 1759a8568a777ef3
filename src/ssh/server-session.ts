/**
 * The proxy's side of one agent's SSH connection: an ssh2 server over the agent's byte
 * stream (the WebSocket on the main thread, or its relay in a data-plane thread). The one
 * place that speaks kubesphere-v1 SSH as a server, whichever thread runs it:
 *
 * - authentication is the Go tower's formality (password, anything accepted); the real
 *   check is the `config` global request, handed to `hooks.config` to answer once;
 * - `ping` is answered here; every other global request and every channel the agent tries
 *   to open is refused (only the proxy opens channels);
 * - `openChannel` opens a `kubesphere` channel once the config was accepted;
 * - the end (agent gone, SSH error, `close()`) is reported once through `hooks.closed`.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type Connection } from 'ssh2';
import { CHANNEL_TYPE, CONFIG_REQUEST, IDENT_SERVER, PING_REQUEST } from '../protocol/constants.js';
import { parsedHostKey } from '../protocol/parsed-host-key.js';
import '../protocol/ssh2-extensions.js';
import type { ChannelOpener } from './channel-opener.js';
import { openFailure, trulyDestroyable } from './server-channel.js';

// ssh2 is CommonJS: take its classes from the default export.
const { Server } = ssh2;

export interface ServerSessionSpec {
  /** The host key (PEM/OpenSSH); parsed once per thread and shared. */
  readonly hostKey: Buffer;
  /** SSH keepalive probes every interval; the session ends after this many unanswered. */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
}

export type SessionLogLevel = 'warn' | 'info' | 'debug';

/** The answer to the agent's `config` request: exactly one call. */
export interface ConfigAnswer {
  accept(): void;
  /** Refuse with a message the agent will read (never a secret). */
  reject(message: string): void;
}

export interface ServerSessionHooks {
  /** The SSH handshake and authentication are done. */
  ready(): void;
  /** The agent's `config` payload. */
  config(payload: Buffer, answer: ConfigAnswer): void;
  /** The connection is gone, and why; once. */
  closed(reason: string): void;
  log(level: SessionLogLevel, message: string, fields: Readonly<Record<string, string | number | boolean>>): void;
}

/** Before an identification line ssh2 swallows its own errors and just ends the stream. */
const NOT_SSH = 'connection closed before a valid SSH identification line (not an SSH peer?)';

export class SshServerSession {
  readonly #stream: Duplex;
  readonly #hooks: ServerSessionHooks;
  #connection: Connection | undefined;
  #configSeen = false;
  #accepted = false;
  #closed = false;
  #ended = false;

  constructor(stream: Duplex, spec: ServerSessionSpec, hooks: ServerSessionHooks) {
    this.#stream = stream;
    this.#hooks = hooks;
    const server = new Server(
      {
        hostKeys: [{ key: parsedHostKey(spec.hostKey) }],
        identRaw: IDENT_SERVER,
        keepaliveInterval: spec.keepaliveIntervalMs,
        keepaliveCountMax: spec.keepaliveCountMax,
      },
      (connection) => this.#onConnection(connection),
    );
    // The stream ends its readable side only when the transport closes; either event
    // means the agent is gone.
    const gone = () => this.#reportClosed(this.#connection ? 'agent disconnected' : NOT_SSH);
    stream.on('end', gone);
    stream.on('close', gone);
    stream.on('error', () => {});
    server.injectSocket(stream as never);
  }

  /** Open a `kubesphere` channel to `target`; only once the config was accepted. */
  readonly openChannel: ChannelOpener = (target, done) => {
    const connection = this.#connection;
    if (!connection || !this.#accepted || this.#closed) return done(new Error('agent session is not serving'));
    try {
      connection.openCustomChannel(CHANNEL_TYPE, Buffer.from(target, 'latin1'), (error, channel) =>
        error ? done(new Error(openFailure(error))) : done(undefined, trulyDestroyable(channel)),
      );
    } catch (error) {
      // ssh2 throws when the connection is no longer writable.
      done(error instanceof Error ? error : new Error(String(error)));
    }
  };

  /**
   * End the session: SSH's DISCONNECT, then the stream — ended first so those last bytes
   * go out, destroyed on the next turn. Once; `hooks.closed` follows.
   */
  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#connection?.end();
    const stream = this.#stream;
    stream.end();
    setImmediate(() => stream.destroy());
  }

  #onConnection(connection: Connection): void {
    this.#connection = connection;
    connection.on('authentication', (ctx) => {
      // Go agents try `none` first, then password "" — offer password, accept any.
      if (ctx.method === 'password') ctx.accept();
      else ctx.reject(['password']);
    });
    connection.on('ready', () => this.#hooks.ready());
    connection.on('custom request', (accept, reject, name, data) => {
      if (name === PING_REQUEST) return accept?.();
      if (name !== CONFIG_REQUEST) return reject?.();
      if (this.#configSeen) return reject?.(Buffer.from('config already received'));
      this.#configSeen = true;
      let answered = false;
      this.#hooks.config(data ?? Buffer.alloc(0), {
        accept: () => {
          if (answered || this.#closed) return;
          answered = true;
          this.#accepted = true;
          accept?.();
        },
        reject: (message) => {
          if (answered || this.#closed) return;
          answered = true;
          reject?.(Buffer.from(message));
        },
      });
    });
    const refuse = (kind: string) => (_accept: unknown, reject: () => void) => {
      this.#hooks.log('warn', 'Agent tried to open a channel; refused (only the proxy opens channels)', { kind });
      reject();
    };
    connection.on('session', refuse('session'));
    connection.on('tcpip', refuse('direct-tcpip'));
    connection.on('error', (error) => this.#reportClosed(`SSH: ${error.message}`));
    connection.on('end', () => this.#reportClosed('agent disconnected'));
    connection.on('close', () => this.#reportClosed('agent disconnected'));
  }

  #reportClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hooks.closed(reason);
    this.close();
  }
}
