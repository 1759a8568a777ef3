/**
 * A small, fast soak with faults on every `npm test`: a few dozen simulated agents against
 * the in-process proxy for a few seconds, with killed sockets, stalled agents, bad inputs
 * and proxy restarts. It asserts the invariants (nothing hung, nothing left behind, some
 * requests served), never a performance figure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SoakResult } from '../../dev/soak/soak-report.js';

// Compiled to dist/test/tools/: the repository root is three levels up.
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SOAK = fileURLToPath(new URL('../../dev/soak/soak.js', import.meta.url));
const LIMIT_MS = 24_000;

function runSoak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SOAK, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    // Everything runs inside the child: killing it leaves nothing behind.
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('soak --faults: no request hangs, everything returns to the baseline', { timeout: LIMIT_MS + 5_000 }, async () => {
  const args = ['--agents', '30', '--duration', '6', '--faults', '--json', '--stalls', '2', '--bad-inputs', '4', '--restart-every', '4'];
  const { code, stdout, stderr } = await runSoak(args);
  const context = `soak ${args.join(' ')} exited ${code}:\n${stderr.slice(-3000)}`;
  assert.ok(stdout.trim(), `no JSON on stdout; ${context}`);
  const r = JSON.parse(stdout) as SoakResult;
  const failed = r.invariants.filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail}`);
  assert.deepEqual(failed, [], `invariants failed (seed ${r.seed}); ${context}`);
  assert.equal(code, 0, context);

  // The invariants, once more from the figures themselves.
  assert.equal(r.requests.pending, 0, 'a request never settled');
  assert.ok(r.requests.ok > 0, 'no request succeeded');
  assert.equal(r.requests.started, r.requests.ok + r.requests.failed + r.requests.pending);
  assert.equal(r.end.actors?.live, 0, `live actors: ${JSON.stringify(r.end.actors)}`);
  for (const [type, d] of Object.entries(r.end.resourcesDiff)) assert.ok(d <= 0, `${type} +${d} over the baseline`);
  assert.deepEqual(
    { sessions: r.end.proxyBeforeStop?.sessions, channels: r.end.proxyBeforeStop?.channelsOpen, connected: r.end.proxyBeforeStop?.clustersConnected },
    { sessions: 0, channels: 0, connected: 0 },
  );
  assert.deepEqual(r.end.proxyAfterStop, { sessions: 0, gateways: 0, channelsOpen: 0 });
  assert.equal(r.end.upstreamSockets, 0);

  // The faults really ran.
  const f = r.faultsInjected;
  assert.ok(f, 'no fault report');
  assert.ok(f.restarts >= 1, 'the proxy was never restarted');
  const probes = Object.values(f.probes).flatMap((results) => Object.values(results));
  assert.ok(probes.reduce((a, b) => a + b, 0) > 0, 'no bad input was sent');
});
