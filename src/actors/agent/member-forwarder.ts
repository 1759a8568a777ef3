/**
 * Member TLS (negotiated with our proxy, src/protocol/constants.ts): the proxy sends plain
 * HTTP over its channels to the kube-apiserver, and the agent carries each channel over a
 * TLS connection of its own to the member (verifying the member's CA, with the
 * kubeconfig's client certificate if it has one), adding the member's bearer token to each
 * request head. The credentials never leave the member cluster, and the proxy runs no TLS
 * over a tunnel stream.
 *
 * One channel, one member connection: the member's responses go back byte for byte,
 * unparsed (the proxy parses them), and only the requests' framing is read, to rewrite
 * their heads (request-head-rewriter.ts). Watches, `logs -f` and upgrades (exec, attach,
 * port-forward) need nothing more. The connection is made before the channel is
 * accepted, so a member that is down or fails verification is a refused channel open
 * with the reason, which the proxy may retry on another agent.
 */
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';
import { parseHostPort, serverName } from '../../protocol/host-port.js';
import { secureContextOf, type ContextMaterial } from '../http/shared-secure-contexts.js';
import type { MemberCredentials } from './member-credentials.js';
import { socketReady } from './socket-ready.js';
import { RequestHeadRewriter, type HeadRewrite } from './request-head-rewriter.js';

export class MemberForwarder {
  readonly #rewrite: HeadRewrite;
  readonly #address: { readonly host: string; readonly port: number } | undefined;
  readonly #servername: string | undefined;
  readonly #material: ContextMaterial;
  /** Made at the first dial: an agent whose proxy never opens a kube channel needs none. */
  #context: SecureContext | undefined;
  /** The member's latest TLS session, offered on the next dial (a resumed handshake). */
  #session: Buffer | undefined;

  /** `target`: the kube-apiserver's `host:port` as the agent dials it (`--kubernetes-service`). */
  constructor(credentials: MemberCredentials, target: string) {
    const address = parseHostPort(target);
    this.#address = address;
    this.#servername = address && serverName(address.host);
    const bearer = credentials.bearerToken?.toString('utf8').trim();
    this.#rewrite = { host: target, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) };
    this.#material = { ca: credentials.caData, cert: credentials.certData, key: credentials.keyData };
  }

  /**
   * A verified TLS connection to the member, or a one-line reason (no secret in it). The
   * signal aborts it (the channel machine bounds the time).
   */
  dial(signal: AbortSignal): Promise<TLSSocket> {
    const address = this.#address;
    if (!address) return Promise.reject(new Error(`target ${this.#rewrite.host} is not host:port`));
    let socket: TLSSocket;
    try {
      this.#context ??= secureContextOf(this.#material);
      socket = tlsConnect({
        host: address.host,
        port: address.port,
        secureContext: this.#context,
        rejectUnauthorized: true,
        // The channel's bytes are HTTP/1.1: never let the member pick HTTP/2.
        ALPNProtocols: ['http/1.1'],
        ...(this.#servername ? { servername: this.#servername } : {}),
        ...(this.#session ? { session: this.#session } : {}),
      });
    } catch (error) {
      // The credentials were parsed when they were read; a failure here is still an answer, not a crash.
      return Promise.reject(new Error(`member TLS: ${(error as Error).message}`));
    }
    socket.setNoDelay(true);
    socket.on('session', (session: Buffer) => (this.#session = session));
    return socketReady(socket, 'secureConnect', this.#rewrite.host, address.host, signal);
  }

  /** The proxy→member direction of one channel. */
  requests(): RequestHeadRewriter {
    return new RequestHeadRewriter(this.#rewrite);
  }
}
