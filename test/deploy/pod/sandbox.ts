/**
 * The "pause container" of an emulated pod: started by pod-network.ts inside a fresh
 * network namespace (its own loopback, with the Service IPs the pod dials added to it),
 * it holds that namespace for the pod's containers and carries the pod's traffic over
 * unix sockets, which cross network namespaces:
 * - outbound: a listener on each Service address (e.g. 10.96.0.1:443, the `kubernetes`
 *   Service) whose connections go to a unix socket the test serves (→ a devcluster, or
 *   another pod);
 * - inbound: one unix socket; a connection names a port on its first line ("8080\n") and
 *   is then joined to 127.0.0.1:<port> inside the pod.
 * It does nothing unless started with `--pod-sandbox <config JSON>` (the test runner
 * imports every file under dist/test).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface SandboxConfig {
  readonly inbound: string;
  readonly outbound: ReadonlyArray<{ readonly host: string; readonly port: number; readonly socket: string }>;
}

/** Longest first line an inbound connection may send. */
const MAX_HEADER = 16;

/** Pipe two sockets into each other; either one ending or failing ends both. */
export function joinSockets(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end).on('close', end);
  b.on('error', end).on('close', end);
}

function inboundConnection(client: Socket): void {
  let header = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    header = Buffer.concat([header, chunk]);
    const nl = header.indexOf(10);
    if (nl < 0) {
      if (header.length > MAX_HEADER) client.destroy();
      return;
    }
    client.off('data', onData);
    client.pause();
    const port = Number(header.subarray(0, nl).toString('ascii'));
    if (!Number.isInteger(port) || port < 1 || port > 65535) return void client.destroy();
    const upstream = createConnection({ host: '127.0.0.1', port });
    const rest = header.subarray(nl + 1);
    if (rest.length) upstream.write(rest);
    joinSockets(client, upstream);
    client.resume();
  };
  client.on('data', onData);
  client.on('error', () => client.destroy());
}

function listen(server: Server, target: { host: string; port: number } | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof target === 'string') server.listen(target, done);
    else server.listen(target.port, target.host, done);
  });
}

async function main(config: SandboxConfig): Promise<void> {
  const servers: Server[] = [];
  for (const route of config.outbound) {
    const server = createServer((client) => joinSockets(client, createConnection(route.socket)));
    servers.push(server);
    await listen(server, route);
  }
  const inbound = createServer(inboundConnection);
  servers.push(inbound);
  await listen(inbound, config.inbound);
  process.stdout.write('sandbox ready\n');
  process.on('SIGTERM', () => {
    for (const s of servers) s.close();
    process.exit(0);
  });
}

if (process.argv[2] === '--pod-sandbox') {
  main(JSON.parse(process.argv[3] ?? '{}') as SandboxConfig).catch((error: unknown) => {
    process.stderr.write(`sandbox: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
