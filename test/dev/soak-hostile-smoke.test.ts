/**
 * `npm run soak -- --hostile` runs its attacks and reports what they did: two of them,
 * small, so the mode keeps working (the hostile tests assert the bounds themselves).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { AttackReport } from '../helpers/attack-report.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SOAK = fileURLToPath(new URL('../../dev/soak/soak.js', import.meta.url));
const LIMIT_MS = 60_000;

test('soak --hostile: each attack reports the attacked process\'s peak and its facts', { timeout: LIMIT_MS + 5_000 }, async () => {
  const args = ['--hostile', '--attacks', 'window-flood,channel-burst', '--bytes', '16', '--channels', '400', '--json'];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [SOAK, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, stdout: out, stderr: err });
    });
  });
  const context = `soak ${args.join(' ')} exited ${code}:\n${stderr.slice(-2000)}`;
  assert.equal(code, 0, context);
  const reports = JSON.parse(stdout) as AttackReport[];
  assert.deepEqual(reports.map((r) => r.attack), ['agent floods beyond the window', '400 channels opened at once by the proxy'], context);
  const [flood, burst] = reports;
  assert.equal(flood!.victim, 'proxy');
  assert.equal(flood!.facts['attackerCutOff'], true);
  assert.ok(flood!.peak.peakRssBytes >= flood!.peak.before.rssBytes);
  assert.equal(burst!.victim, 'agent');
  assert.equal(burst!.facts['opened'], 400, 'under the default --max-channels');
  assert.ok(burst!.peak.peakFds >= burst!.peak.before.fds + 400, 'the agent held a socket per channel');
});
