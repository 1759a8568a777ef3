/**
 * Member TLS (negotiated with our proxy, src/protocol/constants.ts): the proxy sends plain
 * HTTP over the channels to the kube-apiserver, and this forwards each request to it with
 * TLS (verifying the member's CA) and the member's credentials (the service-account token
 * or the kubeconfig's client certificate). The credentials never leave the member cluster,
 * and the proxy runs no TLS over a tunnel stream. Requests stream both ways, watches event
 * by event, upgrades (exec, attach, port-forward) are spliced through — the same reverse
 * proxy the proxy's listeners use, with the member as its one upstream.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../log.js';
import { parseHostPort } from '../../protocol/host-port.js';
import { createReverseProxy, type Upstream } from '../http/reverse-proxy.js';
import { socketLike, TunnelHttpsAgent } from '../http/upstream-agents.js';
import type { MemberCredentials } from './member-credentials.js';

export class MemberForwarder {
  readonly #server: Server;
  readonly #upstream: Upstream;
  readonly #channels = new Set<Duplex>();

  /** `target`: the kube-apiserver's `host:port` as the agent dials it (`--kubernetes-service`). */
  constructor(credentials: MemberCredentials, target: string, clusterName: string, logger: Logger) {
    const dial = (hostPort: string) =>
      new Promise<Duplex>((resolve, reject) => {
        const address = parseHostPort(hostPort);
        if (!address) return reject(new Error(`${hostPort} is not host:port`));
        const socket = connect({ host: address.host, port: address.port });
        socket.setNoDelay(true);
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      });
    const bearer = credentials.bearerToken?.toString('utf8').trim();
    this.#upstream = {
      agent: new TunnelHttpsAgent(dial, target, credentials),
      secure: true,
      target,
      stripAuthorization: true,
      suspect: () => false,
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    };
    const proxy = createReverseProxy({ clusterName, listener: 'kubernetes', pickUpstream: (exclude) => (exclude?.has(this.#upstream) ? undefined : this.#upstream), logger });
    this.#server = createServer(proxy.handleRequest);
    this.#server.on('upgrade', proxy.handleUpgrade);
  }

  /** Serve the HTTP requests the proxy sends on `channel`. */
  serve(channel: Duplex): void {
    this.#channels.add(channel);
    channel.once('close', () => this.#channels.delete(channel));
    this.#server.emit('connection', socketLike(channel));
  }

  /** The connection ended: drop the member connections and the channels still served. */
  close(): void {
    this.#upstream.agent.destroy();
    for (const channel of this.#channels) channel.destroy();
    this.#channels.clear();
  }
}
