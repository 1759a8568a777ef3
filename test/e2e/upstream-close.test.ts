/**
 * When the member's server closes the connection after its answer (`Connection: close`,
 * or a Go server's idle timeout), the tunnel channel that carried it must close on both
 * sides. On Node 22 and 24 the agent's side stayed open: its pipe destroyed the channel
 * before the proxy's close arrived, and an ssh2 channel destroyed that way never emits
 * 'close' (src/actors/agent/agent-channels.ts now makes it truly destroyable).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { tunnelToKsServer, type KsServerTunnel } from '../helpers/ks-server-tunnel.js';
import type { TunnelFixture } from '../helpers/tunnel-fixture.js';

describe('a member server that closes after answering', () => {
  let ks: KsServerTunnel | undefined;
  let t: TunnelFixture;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { connection: 'close', 'content-type': 'text/plain' }).end('bye\n');
  });

  before(async () => {
    ks = await tunnelToKsServer(server);
    t = ks.tunnel;
  });
  after(async () => {
    await ks?.close();
  });

  it('the channel that carried the answer closes on both sides', async () => {
    const res = await t.ksGet('/kapis/version');
    assert.equal(res.status, 200);
    const open = () => t.agents[0]!.openChannels() + [...t.proxy.sessions.values()].reduce((n, s) => n + s.openChannels, 0);
    const deadline = Date.now() + 5000;
    while (open() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(open(), 0, 'channels still open 5 s after the member closed the connection');
  });
});
