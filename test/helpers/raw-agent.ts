/**
 * A hand-driven agent for tests of bad input: a WebSocket (subprotocol kubesphere-v1) to
 * the proxy, the patched ssh2 Client over it with the Go agent's identification line and
 * empty credentials, and nothing else — the test decides what (if any) `config` to send
 * and what else to try on the SSH connection.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type Client as SshClient } from 'ssh2';
import { createWebSocketStream, WebSocket } from 'ws';
import { encodeAgentConfig, type AgentConfig } from '../../src/protocol/agent-config.js';
import { BUILD_VERSION, CONFIG_REQUEST, IDENT_CLIENT, SUBPROTOCOL } from '../../src/protocol/constants.js';
import '../../src/protocol/ssh2-extensions.js';

// ssh2 is CommonJS: take its classes from the default export.
const { Client } = ssh2;

export interface ConfigReply {
  /** The proxy's boolean answer, and no failure message with it. */
  readonly ok: boolean;
  /** The bytes after REQUEST_FAILURE (Go's failure reason), as text; '' when none. */
  readonly message: string;
}

export interface RawAgent {
  readonly ws: WebSocket;
  /** The WebSocket as the byte stream SSH runs over. */
  readonly stream: Duplex;
  readonly client: SshClient;
  /** Settles when the SSH connection is gone (closed by either side). */
  readonly closed: Promise<void>;
  readonly isClosed: () => boolean;
  /** Send `config` with exactly these bytes; rejects if the connection ends first. */
  sendConfig(payload: Buffer, timeoutMs?: number): Promise<ConfigReply>;
  close(): Promise<void>;
}

export interface RawAgentOptions {
  readonly timeoutMs?: number;
  /** Source address to connect from (e.g. 127.0.0.2: another host as far as the proxy knows). */
  readonly localAddress?: string;
}

/** Connect and finish the SSH handshake (bounded); the config is up to the caller. */
export async function connectRawAgent(proxyPort: number, options: RawAgentOptions = {}): Promise<RawAgent> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}`, SUBPROTOCOL, {
    perMessageDeflate: false,
    handshakeTimeout: timeoutMs,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  ws.on('error', () => {});
  // The proxy speaks first: wrap the socket in the 'open' handler itself, so its first
  // message (the SSH identification line) cannot arrive before anyone listens.
  const stream = await bounded(
    new Promise<Duplex>((resolve, reject) => {
      ws.once('open', () => resolve(createWebSocketStream(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`proxy answered HTTP ${res.statusCode} instead of upgrading`)));
    }),
    timeoutMs,
    'the WebSocket upgrade',
  ).catch((error: unknown) => {
    ws.terminate();
    throw error;
  });
  stream.on('error', () => {});
  const client = new Client();
  let closed = false;
  const closedPromise = new Promise<void>((resolve) => {
    const done = () => {
      closed = true;
      resolve();
    };
    client.once('close', done);
    ws.once('close', done);
  });
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    void closedPromise.then(() => reject(new Error('connection closed during the SSH handshake')));
  });
  client.on('error', () => {});
  client.connect({
    sock: stream as never,
    username: '',
    password: '',
    identRaw: IDENT_CLIENT,
    hostVerifier: () => true,
    readyTimeout: timeoutMs,
    keepaliveInterval: 0,
  });
  try {
    await bounded(ready, timeoutMs, 'the SSH handshake');
  } catch (error) {
    client.end();
    ws.terminate();
    throw error;
  }

  return {
    ws,
    stream,
    client,
    closed: closedPromise,
    isClosed: () => closed,
    sendConfig: (payload, replyTimeoutMs = timeoutMs) =>
      bounded(
        new Promise<ConfigReply>((resolve, reject) => {
          try {
            client.globalRequest(CONFIG_REQUEST, payload, (error, ok, data) => {
              if (error) return reject(error);
              const message = data && data.length > 0 ? data.toString('utf8') : '';
              resolve({ ok: Boolean(ok) && message === '', message });
            });
          } catch (error) {
            reject(error as Error);
          }
          // ssh2 answers a pending request "No response from server" when the connection
          // closes on Node 20, but not on Node 22 and 24: say it ourselves.
          void closedPromise.then(() => reject(new Error('No response: the connection closed before the reply')));
        }),
        replyTimeoutMs,
        'the reply to config',
      ),
    close: async () => {
      if (!closed) {
        client.end();
        ws.terminate();
      }
      await bounded(closedPromise, timeoutMs, 'the raw agent to close');
    },
  };
}

/** A config the proxy would accept for `name`/`token`, with fields overridden. */
export function rawConfig(fields: Partial<AgentConfig> & Pick<AgentConfig, 'name' | 'token'>): Buffer {
  return encodeAgentConfig({
    version: BUILD_VERSION,
    kubernetesSvcHost: '127.0.0.1:6443',
    kubeSphereSvcHost: '127.0.0.1:80',
    bearerToken: Buffer.from('raw-agent-bearer'),
    ...fields,
  });
}

function bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
