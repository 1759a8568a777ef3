/**
 * Connections to one target in the member cluster through one agent session's tunnel,
 * and the keep-alive pool requests use, so idle upstream connections (and their TLS
 * sessions) are reused instead of opening a channel and a TLS handshake per request.
 *
 * Requests go through undici rather than Node's HTTP client: it costs the proxy less CPU
 * per request under keep-alive load (docs/performance.md, "Our own HTTP client over the
 * channels"). Upgrades (exec, attach, port-forward) take a fresh connection of
 * their own from `connect`, with Node's client.
 */
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { Client, Dispatcher } from 'undici';
import type { AgentConfig } from '../../protocol/agent-config.js';
import { parseHostPort, serverName } from '../../protocol/host-port.js';
import { ChannelNotOpened } from './channel-errors.js';
import type { ResponseRelay } from './response-relay.js';
import { UpstreamPool } from './upstream-pool.js';
import { SharedSecureContexts, type ContextLease, type ContextMaterial } from './shared-secure-contexts.js';

/** The member TLS contexts of every session of this process (see shared-secure-contexts.ts). */
export const upstreamSecureContexts = new SharedSecureContexts();

type OpenStream = (target: string) => Promise<Duplex>;
export type ConnectCallback = (error: Error | null, socket: Duplex | null) => void;

/**
 * How long a pooled connection may sit idle before the proxy closes it (and its channel).
 * The member may close it sooner; a request that meets such a close is sent again.
 */
const IDLE_UPSTREAM_MS = 60_000;

/**
 * Idle upstream connections kept per session. An idle one costs only its channel window
 * and TLS state; too few and concurrent clients pay a channel open and a TLS handshake
 * per request (the bench measured 1.4 k req/s at 16 for 32 clients, 4.9 k at 256).
 */
const MAX_IDLE_UPSTREAM = 256;

/**
 * undici's HTTP/1.1 client alone, loaded at the first request: the whole package would
 * cost every proxy about 10 MB of RSS at start, used or not; its client costs about 2.
 */
let ClientClass: typeof Client | undefined;
const undiciClient = (): typeof Client => (ClientClass ??= createRequire(import.meta.url)('undici/lib/dispatcher/client.js') as typeof Client);

/** undici's origin is only a key here: `connect` ignores it and the Host header is set per request. */
const ORIGIN = 'http://member.tunnel';

/**
 * Neither the time to the response headers nor the gaps in a body are limited: a watch
 * may be quiet for minutes, and an agent that goes silent is noticed by its session.
 */
const NO_TIMEOUTS = { headersTimeout: 0, bodyTimeout: 0 } as const;

/**
 * Node's HTTP client and undici call a few net.Socket methods; a bare SSH channel has
 * none of them. They are meaningless for a channel, so make them no-ops.
 */
export function socketLike(stream: Duplex): Duplex {
  const s = stream as Duplex & Partial<Pick<Socket, 'setKeepAlive' | 'setNoDelay' | 'setTimeout' | 'ref' | 'unref'>>;
  s.setKeepAlive ??= () => s as never;
  s.setNoDelay ??= () => s as never;
  s.setTimeout ??= () => s as never;
  s.ref ??= () => s as never;
  s.unref ??= () => s as never;
  return s;
}

/** Plain HTTP over the tunnel: the ks-apiserver path, and the kube path with member TLS. */
export class TunnelConnections {
  #pool: UpstreamPool | undefined;
  #destroyed = false;

  constructor(
    private readonly openStream: OpenStream,
    private readonly target: string,
  ) {}

  /** A new connection to the target: a channel, with what `over` runs on it. */
  connect(callback: ConnectCallback): void {
    this.openStream(this.target).then(
      (stream) => {
        let socket: Duplex;
        try {
          socket = this.over(stream);
        } catch (error) {
          stream.destroy();
          return callback(error as Error, null);
        }
        callback(null, socket);
      },
      (error: Error) => callback(error, null),
    );
  }

  /** What a connection is, given its channel: here the channel itself, plain HTTP. */
  protected over(stream: Duplex): Duplex {
    return socketLike(stream);
  }

  /**
   * Send one request on a pooled connection (a new one when none is idle, or `fresh`);
   * the pool is made at the first request (an idle session has none).
   */
  send(options: Dispatcher.DispatchOptions, relay: ResponseRelay, fresh = false): void {
    if (this.#destroyed) {
      // Nothing reached the member: the request may go elsewhere.
      return relay.onResponseError(undefined, new ChannelNotOpened('the agent session ended'));
    }
    this.#pool ??= new UpstreamPool(() => new (undiciClient())(ORIGIN, { keepAliveTimeout: IDLE_UPSTREAM_MS, ...NO_TIMEOUTS, connect: this.#connector }), MAX_IDLE_UPSTREAM);
    this.#pool.send(options, relay, fresh);
  }

  /** The session ended: its pooled connections go, requests still running on them fail. */
  destroy(): void {
    this.#destroyed = true;
    this.#pool?.destroy();
    this.#pool = undefined;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  // undici's connector type names net and TLS sockets; a channel is a Duplex that behaves as one.
  readonly #connector = ((_options: unknown, callback: ConnectCallback) => this.connect(callback)) as unknown as Client.Options['connect'];
}

/**
 * HTTPS over the tunnel (the kube-apiserver path without member TLS): TLS runs end to end
 * between the proxy and the member apiserver, verified with the agent's CA and
 * authenticated with its client certificate when it sent one. The TLS context is taken at
 * the first connection (an idle session has none) from the contexts shared by sessions
 * with the same CA and credentials, and given back when the session ends.
 */
export class TlsTunnelConnections extends TunnelConnections {
  readonly #material: ContextMaterial;
  readonly #servername: string | undefined;
  readonly #checkHost: string;
  #lease: ContextLease | undefined;

  constructor(openStream: OpenStream, target: string, config: Pick<AgentConfig, 'caData' | 'certData' | 'keyData'>) {
    super(openStream, target);
    const host = parseHostPort(target)?.host ?? target;
    // Empty parts and a certificate without its key are dropped where contexts are made.
    this.#material = { ca: config.caData, cert: config.certData, key: config.keyData };
    this.#servername = serverName(host);
    this.#checkHost = host;
  }

  /**
   * TLS over the channel. The config check parsed this material already; should it throw
   * here all the same, `connect` answers with the error rather than crash.
   */
  protected override over(stream: Duplex): Duplex {
    return tlsConnect({
      secureContext: this.#context(),
      ...(this.#servername ? { servername: this.#servername } : {}),
      rejectUnauthorized: true,
      socket: stream,
      host: this.#checkHost,
    });
  }

  override destroy(): void {
    super.destroy();
    this.#lease?.release();
    this.#lease = undefined;
  }

  #context() {
    if (this.#lease) return this.#lease.context;
    const lease = upstreamSecureContexts.acquire(this.#material);
    // A connection that opened after the session ended: use the context, keep no lease.
    if (this.destroyed) lease.release();
    else this.#lease = lease;
    return lease.context;
  }
}

