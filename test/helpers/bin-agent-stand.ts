/**
 * For tests of the real bin/agent against a stand-in proxy that answers its upgrade by
 * hand: a member devcluster and its kubeconfig for the agent (made in before(), removed in
 * after()), agents started against a port (each stopped in after(), whatever the test did),
 * and the stand-in itself, whose close() also ends the upgraded sockets it no longer tracks.
 */
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before } from 'node:test';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { BinProcess } from './bin-process.js';

/** The agent must dial the stand-in itself, never through a proxy from the environment. */
const ENV = { ...process.env, KUBERNETES_SERVICE_HOST: '', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' };

export interface UpgradeStandIn {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 that hands every upgrade request's socket to `answer`. Its
 * close() destroys those sockets too: the server no longer tracks them, and one left
 * half-open would keep server.close() waiting for ever.
 */
export async function upgradeStandIn(answer: (socket: Duplex, req: IncomingMessage) => void): Promise<UpgradeStandIn> {
  const sockets = new Set<Duplex>();
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    answer(socket, req);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  return { port: (server.address() as AddressInfo).port, close };
}

/** Call inside a describe(): registers its before() and after(). */
export function binAgentStand(dirPrefix: string): { startAgent(port: number, token: string): BinProcess; cleanup(fn: () => Promise<unknown> | void): void } {
  let dir: string | undefined;
  let member: DevCluster | undefined;
  let kubeconfig = '';
  const cleanups: Array<() => Promise<unknown> | void> = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), dirPrefix));
    member = await startDevCluster({ name: 'member' });
    kubeconfig = await member.writeKubeconfig(join(dir, 'member.kubeconfig'));
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await member?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    startAgent: (port, token) => {
      const agent = new BinProcess(
        process.execPath,
        [join(PACKAGE_ROOT, 'bin', 'agent'), '--name', 'alpha', '--token', token, '--kubeconfig', kubeconfig, '--proxy-server', `http://127.0.0.1:${port}`],
        { env: ENV },
      );
      cleanups.push(() => agent.stop());
      return agent;
    },
    cleanup: (fn) => void cleanups.push(fn),
  };
}
