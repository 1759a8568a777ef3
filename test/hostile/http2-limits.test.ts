/**
 * [HTTP/2 limits — issue 15] A client holding a valid certificate attacks a kube listener
 * of the real bin/proxy over HTTP/2 (raw frames): more streams than
 * --http2-max-streams-per-connection, header lists over the limits, floods of PING,
 * SETTINGS, RST_STREAM (rapid reset) and CONTINUATION, extended CONNECT. Each is refused as
 * RFC 9113 says (REFUSED_STREAM, ENHANCE_YOUR_CALM, GOAWAY), the proxy stays within its
 * bound, and the good clients — HTTP/1.1 kube and ks, and an HTTP/2 client on its own
 * connection to the same listener — never notice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROXY_DEFAULTS } from '../../src/actors/proxy/proxy-defaults.js';
import { describeReport, type AttackReport } from '../helpers/attack-report.js';
import {
  continuationFlood,
  controlFlood,
  extendedConnect,
  H2_ERROR,
  oversizedHeaders,
  rapidReset,
  tooManyStreams,
} from '../helpers/attacks-http2.js';
import { assertBounded, assertGoodClientFine, calmLatency } from '../helpers/hostile-asserts.js';
import { startHostileWorld, type HostileWorld } from '../helpers/hostile-world.js';
import { readProcStats } from '../helpers/proc-stats.js';

const MAX_STREAMS = 16;

describe('[HTTP/2 limits] a client with a valid certificate attacks a kube listener over HTTP/2', { timeout: 180_000 }, () => {
  let world: HostileWorld;
  let calmMs: number;
  let fdsBefore: number;
  before(async () => {
    world = await startHostileWorld({ proxyArgs: ['--http2-max-streams-per-connection', String(MAX_STREAMS)] });
    calmMs = await calmLatency(world.probe);
    fdsBefore = (await readProcStats(world.proxy.pid!)).fds;
  });
  after(() => world?.close());

  const fine = (report: AttackReport) => {
    assertBounded(report, { rssGrowthMiB: 64, fdGrowth: 40 });
    assertGoodClientFine(report, calmMs);
  };
  const fact = (report: AttackReport, name: string) => report.facts[name];

  it('streams beyond --http2-max-streams-per-connection are refused (REFUSED_STREAM); the allowed ones are served', async () => {
    const report = await tooManyStreams(world, MAX_STREAMS, 200);
    const context = describeReport(report);
    assert.equal(fact(report, 'answered'), MAX_STREAMS, context);
    assert.equal(fact(report, 'refused'), 200, context);
    assert.ok((fact(report, 'watchesAtMember') as number) <= MAX_STREAMS, `more watches reached the member than allowed: ${context}`);
    fine(report);
  });

  it('a header list over the size limit and one over the field limit are reset (ENHANCE_YOUR_CALM); the connection goes on', async () => {
    const report = await oversizedHeaders(
      world,
      PROXY_DEFAULTS.http2MaxHeaderListBytes + 1024,
      PROXY_DEFAULTS.http2MaxHeaderListPairs + 20,
      { ackSettings: true },
    );
    const context = describeReport(report);
    assert.equal(fact(report, 'bigStream'), `reset ${H2_ERROR.ENHANCE_YOUR_CALM}`, context);
    assert.equal(fact(report, 'manyFields'), `reset ${H2_ERROR.ENHANCE_YOUR_CALM}`, context);
    assert.equal(fact(report, 'reachedMember'), '/oversized-good', `only the good request reaches the member: ${context}`);
    fine(report);
  });

  it('from a client that never acknowledges SETTINGS, an oversized header list is refused all the same (431)', async () => {
    const report = await oversizedHeaders(
      world,
      PROXY_DEFAULTS.http2MaxHeaderListBytes + 1024,
      PROXY_DEFAULTS.http2MaxHeaderListPairs + 20,
      { ackSettings: false },
    );
    const context = describeReport(report);
    assert.equal(fact(report, 'manyFields'), `reset ${H2_ERROR.ENHANCE_YOUR_CALM}`, context);
    assert.equal(fact(report, 'reachedMember'), '/oversized-good', `only the good request reaches the member: ${context}`);
    fine(report);
  });

  for (const kind of ['PING', 'SETTINGS'] as const) {
    it(`a ${kind} flood whose acknowledgements are never read: the proxy closes the connection or stops reading it`, async () => {
      const report = await controlFlood(world, kind, 2_000_000);
      const context = describeReport(report);
      assert.ok(fact(report, 'closed') === true || fact(report, 'stalled') === true, `the proxy took the whole flood: ${context}`);
      assert.ok((fact(report, 'framesSent') as number) < 2_000_000, context);
      fine(report);
    });
  }

  it('rapid reset: past the reset budget the connection is told GOAWAY and closed; few requests reach the member', async () => {
    const report = await rapidReset(world, 5_000);
    const context = describeReport(report);
    assert.equal(fact(report, 'goawayCode'), H2_ERROR.NO_ERROR, context);
    assert.equal(fact(report, 'closed'), true, context);
    const budget = PROXY_DEFAULTS.http2ResetStreamBurst + 2 * PROXY_DEFAULTS.http2ResetStreamsPerSecond;
    assert.ok((fact(report, 'reachedMember') as number) <= budget, `more upstream requests than the budget (${budget}): ${context}`);
    fine(report);
  });

  it('a CONTINUATION flood is cut short: the connection is closed', async (t) => {
    const report = await continuationFlood(world, 10_000);
    const context = describeReport(report);
    t.diagnostic(`the attacker got ${fact(report, 'framesSent')} of 10000 frames out before the close`);
    assert.equal(fact(report, 'closed'), true, context);
    assert.ok((fact(report, 'framesSent') as number) < 10_000, context);
    fine(report);
  });

  it('extended CONNECT is reset (PROTOCOL_ERROR) and reaches nothing; the connection goes on', async () => {
    const report = await extendedConnect(world);
    const context = describeReport(report);
    assert.equal(fact(report, 'connectReset'), H2_ERROR.PROTOCOL_ERROR, context);
    assert.equal(fact(report, 'reachedMember'), 0, context);
    fine(report);
  });

  it('after everything, the proxy holds no more sockets than before', async () => {
    const deadline = Date.now() + 10_000;
    let fds = (await readProcStats(world.proxy.pid!)).fds;
    while (fds > fdsBefore + 4 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      fds = (await readProcStats(world.proxy.pid!)).fds;
    }
    assert.ok(fds <= fdsBefore + 4, `proxy fds ${fds}, before the attacks ${fdsBefore}`);
  });
});
