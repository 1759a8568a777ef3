/**
 * [agent limits] A proxy opens 5,000 channels at once at the real bin/agent (lowered
 * limits: --max-channels 300 --max-dials 32). The agent opens at most 300 (its fds and
 * memory say so), refuses the rest at once with "resource shortage" and a description,
 * refuses one more open at once rather than slowly, gives every socket back when the
 * channels close, and a second burst is bounded as the first was.
 *
 * Before the limits: 5,000 dials (fds 20 → 5,020, RSS +155 MiB, kept after the burst);
 * the burst took 9.6 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { describeReport } from '../helpers/attack-report.js';
import { channelBurst } from '../helpers/attacks-on-agent.js';
import { assertBounded } from '../helpers/hostile-asserts.js';
import { startHostileProxyStage, type HostileProxyStage } from '../helpers/hostile-proxy.js';
import { MiB } from '../helpers/proc-stats.js';

const MAX_CHANNELS = 300;

describe('[agent limits] 5,000 channels opened at once by a proxy', { timeout: 120_000 }, () => {
  let stage: HostileProxyStage;
  before(async () => {
    stage = await startHostileProxyStage({
      kube: 'holder',
      ks: 'holder',
      agentArgs: ['--max-channels', String(MAX_CHANNELS), '--max-dials', '32'],
    });
  });
  after(() => stage?.close());

  it('opens at most --max-channels, refuses the rest with a reason, gives everything back', async () => {
    const first = await channelBurst(stage, 5_000);
    const context = describeReport(first);
    assert.equal(first.facts['opened'], MAX_CHANNELS, context);
    assert.match(
      String(first.facts['refusals']),
      /^4700× \(SSH\) Channel open failure: agent has N channels open or opening, its limit \(--max-channels N\)$/,
      context,
    );
    assert.match(String(first.facts['extraChannel']), /^refused: .*--max-channels 300/, context);
    assert.ok((first.facts['extraChannelMs'] as number) < 1_000, `the extra open took ${first.facts['extraChannelMs']} ms: ${context}`);
    assertBounded(first, { rssGrowthMiB: 64, fdGrowth: MAX_CHANNELS + 10 });
    assert.ok((first.facts['fdsAfterClose'] as number) <= first.peak.before.fds + 5, `sockets kept after the burst: ${context}`);
    assert.match(
      stage.agent.output,
      /"reason":"agent has 300 channels open or opening, its limit \(--max-channels 300\)"[^\n]*"msg":"Refusing channels the proxy opens: resource shortage"/,
    );
    assert.equal(stage.agent.output.match(/Refusing channels the proxy opens/g)?.length, 1, 'one line, not one per refusal');

    // The agent reconnects after the proxy ended the connection; a second burst reuses
    // what the first one took.
    const second = await channelBurst(stage, 5_000);
    assert.equal(second.facts['opened'], MAX_CHANNELS, describeReport(second));
    const growth = (second.peak.peakRssBytes - first.peak.peakRssBytes) / MiB;
    // Bounded like the first, not "no more than the first": the live heap after a full GC
    // is the same after the 2nd and the 12th burst (heap snapshots 14.4 and 14.5 MB, Node
    // 24), but Node 22+ grows its heap before collecting, so RSS rose 41–47 MiB from the
    // first burst's peak there (18 on Node 20 in the same measurement). Sockets are the part that could leak,
    // and they must all come back.
    assert.ok(growth < 64, `the second burst grew the agent by ${growth.toFixed(0)} MiB more: ${describeReport(second)}`);
    assert.ok(
      (second.facts['fdsAfterClose'] as number) <= first.peak.before.fds + 5,
      `sockets kept after the second burst: ${describeReport(second)}`,
    );
  });
});
