/**
 * An emulated pod's network: a private network namespace (as every pod has), held by
 * sandbox.ts, so the pod's containers bind their fixed ports (8080, 6000–7000, 9090) and
 * all interfaces without touching the machine's; its Service routes (the `kubernetes`
 * Service at 10.96.0.1:443, another pod's Service) lead wherever the test says, and the
 * test reaches the pod's ports through `connect(port)` or a 127.0.0.1 listener.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedChild } from '../../../dev/demo/child.js';
import { joinSockets, type SandboxConfig } from './sandbox.js';

const SANDBOX = join(fileURLToPath(new URL('.', import.meta.url)), 'sandbox.js');

export interface Route {
  /** The address the pod dials (a ClusterIP). */
  readonly host: string;
  readonly port: number;
  /** Opens the connection it leads to. */
  readonly connect: () => Socket;
}

/** A listener whose connections are tracked, so that closing it ends them too. */
class Relay {
  readonly server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(onConnection: (client: Socket) => void) {
    this.server = createServer((client) => {
      this.#sockets.add(client);
      client.on('close', () => this.#sockets.delete(client));
      onConnection(client);
    });
  }

  listen(...args: unknown[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      (this.server.listen as (...a: unknown[]) => void)(...args, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const c of this.#sockets) c.destroy();
    });
  }
}

export class PodNetwork {
  readonly #relays: Relay[] = [];

  private constructor(
    readonly name: string,
    readonly sandbox: ManagedChild,
    private readonly inboundSocket: string,
  ) {}

  /** Start the pod's sandbox in `dir` with these outbound routes. */
  static async start(name: string, dir: string, routes: readonly Route[]): Promise<PodNetwork> {
    const relays: Relay[] = [];
    const outbound = await Promise.all(
      routes.map(async (route, i) => {
        const socket = join(dir, `${name}-out-${i}.sock`);
        const relay = new Relay((client) => joinSockets(client, route.connect()));
        relays.push(relay);
        await relay.listen(socket);
        return { host: route.host, port: route.port, socket };
      }),
    );
    const config: SandboxConfig = { inbound: join(dir, `${name}-in.sock`), outbound };
    const addresses = [...new Set(routes.map((r) => r.host))].filter((h) => h !== '127.0.0.1');
    const setup = ['ip link set lo up', ...addresses.map((a) => `ip addr add ${a}/32 dev lo`), 'exec "$@"'].join(' && ');
    const sandbox = new ManagedChild({
      name: `${name} sandbox`,
      command: 'unshare',
      args: ['--net', '--', 'sh', '-c', setup, 'sandbox', process.execPath, SANDBOX, '--pod-sandbox', JSON.stringify(config)],
    });
    const network = new PodNetwork(name, sandbox, config.inbound);
    network.#relays.push(...relays);
    try {
      await sandbox.waitFor(/sandbox ready/, 15_000);
    } catch (error) {
      await network.stop();
      throw error;
    }
    return network;
  }

  /** The pod's network namespace, for `nsenter --net=`. */
  get netns(): string {
    return `/proc/${this.sandbox.pid ?? 0}/ns/net`;
  }

  /** A connection to `port` inside the pod (as from another pod or the kubelet). */
  connect(port: number): Socket {
    const socket = createConnection(this.inboundSocket);
    socket.write(`${port}\n`);
    return socket;
  }

  /** A 127.0.0.1 listener that leads to `port` inside the pod (like `kubectl port-forward`). */
  async expose(port: number): Promise<number> {
    const relay = new Relay((client) => joinSockets(client, this.connect(port)));
    this.#relays.push(relay);
    await relay.listen(0, '127.0.0.1');
    return (relay.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await this.sandbox.stop(3000);
    await Promise.all(this.#relays.map((r) => r.close()));
  }
}
