/** The proxy's /metrics: live state, handshakes by result, bytes and request latency. */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { connectRawAgent, rawConfig } from '../helpers/raw-agent.js';
import { CLUSTER, startTunnelFixture, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { until } from '../helpers/wait.js';

function scrape(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const samples = new Map<string, number>();
        for (const line of text.split('\n')) {
          const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
          if (m) samples.set(m[1]!, Number(m[2]));
        }
        resolve(samples);
      });
    }).on('error', reject);
  });
}

describe('proxy /metrics', () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture();
    await t.waitConnected(await t.addAgent());
    await t.waitSessions(1);
  });
  after(() => t.close());

  it('reports sessions, clusters, handshakes, bytes and request latency', async () => {
    assert.equal((await t.kubeGet('/version')).status, 200);
    assert.equal((await t.ksGet('/x')).status, 200);
    const m = await scrape(t.proxy.port);
    assert.equal(m.get('tower_proxy_sessions'), 1);
    assert.equal(m.get('tower_proxy_clusters_connected'), 1);
    assert.equal(m.get('tower_proxy_handshakes_total{result="accepted"}'), 1);
    assert.ok((m.get('tower_proxy_bytes_total{direction="from_member",listener="kubernetes"}') ?? 0) > 0);
    assert.equal(m.get('tower_proxy_request_duration_seconds_count{listener="kubernetes",code="2xx"}'), 1);
    assert.equal(m.get('tower_proxy_request_duration_seconds_count{listener="kubesphere",code="2xx"}'), 1);
    assert.ok((m.get('nodejs_eventloop_lag_p99_seconds') ?? -1) >= 0, 'event-loop delay is exported');
  });

  it('counts a rejected agent by reason', async () => {
    const raw = await connectRawAgent(t.proxy.port);
    const reply = await raw.sendConfig(rawConfig({ name: CLUSTER, token: 'wrong' }));
    assert.equal(reply.ok, false);
    await raw.closed;
    await until(() => t.proxy.sessions.size === 1, (fn) => t.proxy.onChange(fn), 'the rejected session to end');
    const m = await scrape(t.proxy.port);
    assert.equal(m.get('tower_proxy_handshakes_total{result="wrong_token"}'), 1);
  });
});
