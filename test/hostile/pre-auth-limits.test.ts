/**
 * [pre-auth limits — lead] Connections that never authenticate, against the real
 * bin/proxy with lowered limits: idle sockets, half-open ones (a refused request whose
 * answer is never read) and slowloris on the agent port, a ks listener and a kube
 * listener; WebSockets that never speak SSH; SSH sessions that never send a config;
 * keep-alive clients that go quiet. Each is closed by its deadline — destroyed, not
 * half-closed — the agent port never holds more than --max-unauthenticated of them, and
 * the good cluster's agent and client keep working meanwhile.
 *
 * Flag contract (the lead's part): --request-timeout (HTTP request/upgrade head, every
 * port, TLS handshake included), --handshake-timeout (SSH), --config-timeout,
 * --max-unauthenticated (agent port: connections not yet accepted by a config),
 * --client-idle-timeout (idle keep-alive connections on the listeners).
 * Before: 2,000 idle/half-open/slowloris sockets on the agent port, an idle or slowloris
 * flood on a ks or kube listener were all still open after 15 s (fds 28 → 2,028).
 */
import assert from 'node:assert/strict';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../../src/protocol/constants.js';
import { describeReport, type AttackReport } from '../helpers/attack-report.js';
import { goodAgentConnect, silentSessionsAttack, socketFloodAttack, type FloodTarget } from '../helpers/attacks-on-proxy.js';
import { assertBounded, assertGoodClientFine, calmLatency } from '../helpers/hostile-asserts.js';
import { startHostileWorld, type HostileWorld } from '../helpers/hostile-world.js';
import { readProcStats } from '../helpers/proc-stats.js';
import { socketFlood, type FloodKind } from '../helpers/socket-floods.js';

const REQUEST_TIMEOUT_S = 1;
const MAX_UNAUTHENTICATED = 50;
const CLIENT_IDLE_TIMEOUT_S = 2;
const FLOOD = 300;
/** Deadline + this: time for the proxy's timer to fire and the sockets to go. */
const GRACE_S = 3;

describe('[pre-auth limits — lead] connections that never authenticate', { timeout: 180_000 }, () => {
  let world: HostileWorld;
  let calmMs: number;
  before(async () => {
    world = await startHostileWorld({
      proxyArgs: [
        '--request-timeout',
        `${REQUEST_TIMEOUT_S}s`,
        '--handshake-timeout',
        '2s',
        '--config-timeout',
        '1s',
        '--max-unauthenticated',
        String(MAX_UNAUTHENTICATED),
        '--client-idle-timeout',
        `${CLIENT_IDLE_TIMEOUT_S}s`,
      ],
    });
    calmMs = await calmLatency(world.probe);
  });
  after(() => world?.close());

  const targets = (): FloodTarget[] => [
    { name: 'agent port', port: world.proxyPort },
    { name: 'ks listener', port: world.good.ksPort },
    {
      name: 'kube listener',
      port: world.good.kubePort,
      tls: { ca: world.ca.certPem, cert: world.client.certPem, key: world.client.keyPem },
    },
  ];

  /** Closed by the deadline, back to the baseline, the good users fine. */
  const assertCleared = (report: AttackReport, capped: boolean) => {
    const context = describeReport(report);
    const after = report.facts['allClosedAfterS'] as number;
    assert.ok(after >= 0 && after <= REQUEST_TIMEOUT_S + GRACE_S, `not all closed within ${REQUEST_TIMEOUT_S + GRACE_S} s: ${context}`);
    assert.ok((report.facts['fdsAtEndOfHold'] as number) <= report.peak.before.fds + 8, `fds left: ${context}`);
    assertBounded(report, { rssGrowthMiB: 64, ...(capped ? { fdGrowth: MAX_UNAUTHENTICATED + 15 } : {}) });
    assertGoodClientFine(report, calmMs);
  };

  for (const kind of ['idle', 'half-open', 'slowloris'] as FloodKind[]) {
    for (const where of ['agent port', 'ks listener', 'kube listener']) {
      it(`${kind} flood (${FLOOD}) on the ${where}: closed after --request-timeout${where === 'agent port' ? ', at most --max-unauthenticated held' : ''}`, async () => {
        const target = targets().find((t) => t.name === where)!;
        const report = await socketFloodAttack(world, target, kind, FLOOD, (REQUEST_TIMEOUT_S + GRACE_S + 2) * 1000);
        assertCleared(report, where === 'agent port');
        if (where === 'agent port') {
          // A good agent that comes during the flood gets in once the flood's sockets are gone.
          assert.ok((report.facts['goodAgentConnectMs'] as number) <= (REQUEST_TIMEOUT_S + GRACE_S) * 1000, describeReport(report));
        }
      });
    }
  }

  it('WebSockets that never speak SSH are closed after --handshake-timeout', async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${world.proxyPort}`, SUBPROTOCOL);
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
          }),
      ),
    );
    try {
      const closed = await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<number>((resolve) => {
              const started = performance.now();
              const timer = setTimeout(() => resolve(Infinity), 10_000);
              ws.once('close', () => (clearTimeout(timer), resolve(performance.now() - started)));
            }),
        ),
      );
      assert.ok(Math.max(...closed) <= (2 + GRACE_S) * 1000, `slowest close after ${Math.max(...closed).toFixed(0)} ms`);
    } finally {
      for (const ws of sockets) ws.terminate();
    }
  });

  it('SSH sessions without a config: at most --max-unauthenticated at once, each closed after --config-timeout', async () => {
    const report = await silentSessionsAttack(world, 200, 8_000);
    const context = describeReport(report);
    assert.ok((report.facts['established'] as number) <= MAX_UNAUTHENTICATED, `more sessions than the cap: ${context}`);
    assert.ok((report.facts['refused'] as number) >= 200 - MAX_UNAUTHENTICATED, context);
    assert.ok((report.facts['allClosedAfterS'] as number) >= 0, `sessions left open: ${context}`);
    assertBounded(report, { rssGrowthMiB: 64, fdGrowth: MAX_UNAUTHENTICATED + 15 });
    assertGoodClientFine(report, calmMs);
  });

  it('an idle keep-alive client of a listener is closed after --client-idle-timeout', async () => {
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    try {
      const closedAfterMs = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: world.good.ksPort, path: '/keep', agent }, (res) => {
          res.resume();
          res.once('end', () => {
            const started = performance.now();
            const timer = setTimeout(() => resolve(Infinity), (CLIENT_IDLE_TIMEOUT_S + GRACE_S + 5) * 1000);
            req.socket?.once('close', () => (clearTimeout(timer), resolve(performance.now() - started)));
          });
        });
        req.on('error', reject);
        req.end();
      });
      assert.ok(closedAfterMs <= (CLIENT_IDLE_TIMEOUT_S + GRACE_S) * 1000, `closed after ${closedAfterMs} ms`);
      assert.ok(closedAfterMs >= (CLIENT_IDLE_TIMEOUT_S - 0.5) * 1000, `closed too early, after ${closedAfterMs} ms`);
    } finally {
      agent.destroy();
    }
  });

  it('after everything, the proxy is back to its baseline and a good agent connects at once', async () => {
    const ms = await goodAgentConnect(world);
    assert.ok(ms < 2_000, `a good agent took ${ms.toFixed(0)} ms`);
    const stats = await readProcStats(world.proxy.pid!);
    assert.ok(stats.fds < 60, `proxy fds ${stats.fds}`);
  });
});

describe('[pre-auth limits] a flood that keeps --max-unauthenticated full', { timeout: 120_000 }, () => {
  let world: HostileWorld;
  before(async () => {
    // The default request timeout (10 s): before, a new agent waited for the flood's sockets to time out.
    world = await startHostileWorld({ proxyArgs: ['--max-unauthenticated', String(MAX_UNAUTHENTICATED)] });
  });
  after(() => world?.close());

  for (const kind of ['idle', 'slowloris'] as FloodKind[]) {
    it(`${kind}: a new agent takes the place of a silent socket at once, not after --request-timeout`, async () => {
      const flood = await socketFlood(world.proxyPort, MAX_UNAUTHENTICATED * 4, kind);
      try {
        // Refused while the flood is fresh; once its sockets have been silent for a second
        // they give way (goodAgentConnect retries, bounded).
        const ms = await goodAgentConnect(world, 5_000);
        assert.ok(ms < 3_000, `the good agent got in after ${ms.toFixed(0)} ms`);
      } finally {
        flood.close();
      }
    });
  }
});
