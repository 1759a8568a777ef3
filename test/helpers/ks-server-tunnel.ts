/**
 * A tunnel whose one agent reaches a plain HTTP server of the test's own as its
 * ks-apiserver, for tests about what the member's server says (headers, closes).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTunnelFixture, type TunnelFixture } from './tunnel-fixture.js';

export interface KsServerTunnel {
  readonly tunnel: TunnelFixture;
  /** Stops the tunnel, then the server and its connections. */
  close(): Promise<void>;
}

/** Listens `server` on loopback, starts the tunnel and waits until the agent serves. */
export async function tunnelToKsServer(server: Server): Promise<KsServerTunnel> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let tunnel: TunnelFixture | undefined;
  const close = async () => {
    await tunnel?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    tunnel = await startTunnelFixture();
    const agent = await tunnel.addAgent({ kubesphereService: `127.0.0.1:${(server.address() as AddressInfo).port}` });
    await tunnel.waitConnected(agent);
    await tunnel.waitSessions(1);
    return { tunnel, close };
  } catch (error) {
    await close();
    throw error;
  }
}
