/**
 * [ssh2 patch] A proxy that ignores SSH flow control, against the real bin/agent: it
 * sends on a channel far beyond the window the agent granted while the target does not
 * read (the agent must cut it off, saying so), or grants the agent a ~4 GiB window and
 * stops reading while the target sends as fast as it can (the agent must stop reading the
 * target). The agent's memory stays bounded, and it reconnects and serves again.
 *
 * Before the fix: +437 MiB for a 300 MiB flood; +2.4 GiB in 15 s of a stalled download.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { describeReport } from '../helpers/attack-report.js';
import { proxyFloodsBeyondWindow, proxyStopsReadingDuringDownload } from '../helpers/attacks-on-agent.js';
import { assertBounded } from '../helpers/hostile-asserts.js';
import { startHostileProxyStage, type HostileProxyStage } from '../helpers/hostile-proxy.js';
import { MiB } from '../helpers/proc-stats.js';

const BOUND = { rssGrowthMiB: 48 };

describe('[ssh2 patch] a proxy that ignores the agent\'s windows', { timeout: 120_000 }, () => {
  let stage: HostileProxyStage | undefined;
  afterEach(async () => {
    await stage?.close();
    stage = undefined;
  });

  /** After an attack the agent connects again and a channel to its target opens. */
  const servesAgain = async (s: HostileProxyStage) => {
    const connection = await s.nextConnection();
    const channel = await s.open(connection, 'kube');
    channel.destroy();
  };

  it('sending beyond the window gets the proxy cut off, with a line naming the channel', async () => {
    stage = await startHostileProxyStage({ kube: 'sink', ks: 'holder' });
    const report = await proxyFloodsBeyondWindow(stage, 96 * MiB);
    assert.equal(report.facts['attackerCutOff'], true, describeReport(report));
    assertBounded(report, BOUND);
    assert.match(stage.agent.output, /Peer sent \d+ bytes beyond the window on channel \d+ \(\d+ bytes, window -?\d+\); disconnecting/);
    await servesAgain(stage);
  });

  it('a huge window and no reading stops the agent reading its target', async () => {
    stage = await startHostileProxyStage({ kube: 'holder', ks: 'firehose' });
    const report = await proxyStopsReadingDuringDownload(stage, 4_000);
    assertBounded(report, BOUND);
    await servesAgain(stage);
  });
});
