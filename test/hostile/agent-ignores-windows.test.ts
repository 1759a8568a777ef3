/**
 * [ssh2 patch] A valid-token agent that ignores SSH flow control, against the real
 * bin/proxy in both engines (inline and --data-plane-threads 2): it answers a channel
 * with far more than the window it was granted (the proxy must cut it off, saying so),
 * or grants a ~4 GiB window and stops reading while a client uploads through its ks port
 * (the proxy must stop taking the upload). Either way the proxy's memory stays bounded
 * and the good cluster's client does not notice.
 *
 * Bound: a session holds at most ~3 windows (2 MiB each) per open channel plus ~2 MiB
 * of transport (docs/security.md); here one channel, so the proxy may grow by 48 MiB at
 * most for everything, including the probes. With data-plane threads the bytes cross two
 * V8 isolates, and what they leave is garbage in each one's young generation until it is
 * scavenged; from Node 22 on that generation is larger: the flood measured +50–54 MiB on
 * Node 22 and 24 (+24 on Node 20; under 48 on Node 22 with --max-semi-space-size=8), so
 * that engine is allowed 64. A proxy that buffered the flood would take all 96 MiB.
 * Before the fix: +438 MiB for a 300 MiB flood, +396 MiB for a 300 MiB upload.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { describeReport } from '../helpers/attack-report.js';
import { agentFloodsBeyondWindow, agentStopsReadingDuringUpload } from '../helpers/attacks-on-proxy.js';
import { assertBounded, assertGoodClientFine, calmLatency } from '../helpers/hostile-asserts.js';
import { startHostileWorld, type HostileWorld } from '../helpers/hostile-world.js';
import { MiB } from '../helpers/proc-stats.js';

/** Big enough that buffering it all shows; small enough for a quick test. */
const ATTACK_BYTES = 96 * MiB;
const BOUND = { inline: { rssGrowthMiB: 48 }, 'data-plane threads': { rssGrowthMiB: 64 } } as const;

for (const engine of ['inline', 'data-plane threads'] as const) {
  describe(`[ssh2 patch] an agent that ignores the proxy's windows (${engine})`, { timeout: 120_000 }, () => {
    // A fresh proxy per attack: memory one attack freed would hide what the next one takes.
    let world: HostileWorld;
    let calmMs: number;
    beforeEach(async () => {
      world = await startHostileWorld({ proxyArgs: engine === 'inline' ? [] : ['--data-plane-threads', '2'] });
      calmMs = await calmLatency(world.probe);
    });
    afterEach(() => world?.close());

    it('answering a channel beyond its window gets the agent cut off, with a line naming the channel', async () => {
      const report = await agentFloodsBeyondWindow(world, ATTACK_BYTES);
      assert.equal(report.facts['attackerCutOff'], true, describeReport(report));
      assert.ok((report.facts['sentMB'] as number) < ATTACK_BYTES / MiB, `the whole flood went through: ${describeReport(report)}`);
      assertBounded(report, BOUND[engine]);
      assertGoodClientFine(report, calmMs);
      assert.match(
        world.proxyLog(),
        /"cluster":"evil"[^\n]*"reason":"SSH: Peer sent \d+ bytes beyond the window on channel \d+ \(\d+ bytes, window -?\d+\); disconnecting"[^\n]*"msg":"Agent disconnected"/,
      );
    });

    it('a huge window and no reading stops the upload instead of queueing it', async () => {
      const report = await agentStopsReadingDuringUpload(world, ATTACK_BYTES);
      assert.equal(report.facts['uploadStalled'], true, `the proxy took the whole upload: ${describeReport(report)}`);
      assert.ok((report.facts['uploadedMB'] as number) < 40, describeReport(report));
      assertBounded(report, BOUND[engine]);
      assertGoodClientFine(report, calmMs);
    });
  });
}
