/**
 * Hand-driven peers of the agent port for bad-input probes: a bare WebSocket, or an SSH
 * client over it that completes the handshake and then does whatever the probe wants.
 * Everything is bounded by a timeout and released through the probe's scope.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type Client as SshClient } from 'ssh2';
import { createWebSocketStream, WebSocket } from 'ws';
import { CONFIG_REQUEST, IDENT_CLIENT, SUBPROTOCOL } from '../../src/protocol/constants.js';
import '../../src/protocol/ssh2-extensions.js';

const { Client } = ssh2;

/** Cleanups of one probe; `cancel()` runs them all (the run is ending). */
export class ProbeScope {
  readonly #cleanups = new Set<() => void>();
  #cancelled = false;

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Register a cleanup; returns a function that runs and forgets it. */
  add(cleanup: () => void): () => void {
    if (this.#cancelled) cleanup();
    else this.#cleanups.add(cleanup);
    return () => {
      if (this.#cleanups.delete(cleanup)) cleanup();
    };
  }

  cancel(): void {
    this.#cancelled = true;
    for (const cleanup of [...this.#cleanups]) cleanup();
    this.#cleanups.clear();
  }

  /** Resolve with `value` after `ms`, or at once with `onCancel` when cancelled. */
  within<T>(promise: Promise<T>, ms: number, onTimeout: T, onCancel: T): Promise<T> {
    return new Promise<T>((resolve) => {
      const timer = setTimeout(() => finish(onTimeout), ms);
      const forget = this.add(() => finish(onCancel));
      let done = false;
      function finish(value: T) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        forget();
        resolve(value);
      }
      promise.then(finish, () => finish(onTimeout));
    });
  }
}

export interface RawSocket {
  readonly ws: WebSocket;
  /**
   * The WebSocket as a byte stream, made in the 'open' handler itself: the proxy speaks
   * first, and its identification line must not arrive before anyone listens.
   */
  readonly stream: Duplex;
  /** Settles when the proxy (or anyone) closed the connection. */
  readonly closed: Promise<void>;
}

/** A WebSocket to the agent port offering `protocol`; resolves on open or with the refusal. */
export function openWebSocket(port: number, protocol: string, scope: ProbeScope, timeoutMs: number): Promise<RawSocket | { refused: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, protocol, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
  scope.add(() => ws.terminate());
  ws.on('error', () => {});
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const opened = new Promise<RawSocket | { refused: string }>((resolve) => {
    ws.once('open', () => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {});
      resolve({ ws, stream, closed });
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ refused: `HTTP ${res.statusCode}` });
      ws.terminate();
    });
    ws.once('error', (error) => resolve({ refused: error.message }));
    void closed.then(() => resolve({ refused: 'closed before open' }));
  });
  return scope.within(opened, timeoutMs, { refused: 'timeout' }, { refused: 'cancelled' });
}

export interface RawSsh {
  readonly client: SshClient;
  readonly closed: Promise<void>;
  /** Send `config` with exactly these bytes: `{ ok, message }`, or an error text. */
  sendConfig(payload: Buffer, timeoutMs: number): Promise<{ ok: boolean; message: string } | string>;
}

/** WebSocket + SSH handshake (the Go agent's ident, empty password); no config sent. */
export async function connectSsh(port: number, scope: ProbeScope, timeoutMs: number): Promise<RawSsh | string> {
  const raw = await openWebSocket(port, SUBPROTOCOL, scope, timeoutMs);
  if ('refused' in raw) return `WebSocket: ${raw.refused}`;
  const stream = raw.stream;
  const client = new Client();
  scope.add(() => client.end());
  client.on('error', () => {});
  const closed = new Promise<void>((resolve) => {
    client.once('close', () => resolve());
    void raw.closed.then(() => resolve());
  });
  const ready = new Promise<string | undefined>((resolve) => {
    client.once('ready', () => resolve(undefined));
    client.once('error', (error) => resolve(`SSH: ${error.message}`));
    void closed.then(() => resolve('closed during the SSH handshake'));
  });
  client.connect({
    sock: stream as never,
    username: '',
    password: '',
    identRaw: IDENT_CLIENT,
    hostVerifier: () => true,
    readyTimeout: timeoutMs,
    keepaliveInterval: 0,
  });
  const failure = await scope.within(ready, timeoutMs, 'SSH handshake timed out', 'cancelled');
  if (failure) return failure;
  return {
    client,
    closed,
    sendConfig: (payload, ms) =>
      scope.within(
        new Promise<{ ok: boolean; message: string } | string>((resolve) => {
          try {
            client.globalRequest(CONFIG_REQUEST, payload, (error, ok, data) => {
              if (error) return resolve(`config: ${error.message}`);
              const message = data && data.length > 0 ? data.toString('utf8') : '';
              resolve({ ok: Boolean(ok) && message === '', message });
            });
          } catch (error) {
            resolve(`config: ${error instanceof Error ? error.message : String(error)}`);
          }
          void closed.then(() => resolve('closed before the reply to config'));
        }),
        ms,
        'no reply to config',
        'cancelled',
      ),
  };
}
