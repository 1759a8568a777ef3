/** The agent reaches the proxy through HTTP_PROXY (an HTTP CONNECT tunnel), as the Go agent does. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLUSTER, CLUSTER_TOKEN, startTunnelFixture, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { nextEvent } from '../helpers/wait.js';

const AGENT_BIN = fileURLToPath(new URL('../../../bin/agent', import.meta.url));

/** A loopback HTTP proxy that only tunnels (CONNECT) and remembers where to. */
async function startConnectProxy(): Promise<{ port: number; targets: string[]; server: Server; close(): Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => sockets.delete(s));
    }
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    targets,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('agent behind an HTTP proxy', () => {
  let t: TunnelFixture;
  let connectProxy: Awaited<ReturnType<typeof startConnectProxy>>;
  let agent: ChildProcess | undefined;
  before(async () => {
    t = await startTunnelFixture();
    connectProxy = await startConnectProxy();
  });
  after(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await nextEvent(agent, 'exit', 'the agent to exit');
    }
    await connectProxy.close();
    await t.close();
  });

  it('tunnels through HTTP_PROXY and serves the cluster', async () => {
    agent = spawn(
      process.execPath,
      [AGENT_BIN, '--name', CLUSTER, '--token', CLUSTER_TOKEN, '--proxy-server', `http://127.0.0.1:${t.proxy.port}`, '--kubeconfig', t.memberKubeconfig, '--kubesphere-service', `127.0.0.1:${t.ksPort}`],
      { env: { ...process.env, HTTP_PROXY: `http://127.0.0.1:${connectProxy.port}`, http_proxy: '', NO_PROXY: '', no_proxy: '' }, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    await t.waitSessions(1);
    assert.deepEqual(connectProxy.targets, [`127.0.0.1:${t.proxy.port}`]);
    assert.equal((await t.kubeGet('/version')).status, 200);
  });
});
