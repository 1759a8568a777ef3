import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Compiled to dist/test/tools/: the repository root is three levels up.
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BENCH = fileURLToPath(new URL('../../dev/bench/bench.js', import.meta.url));
const LIMIT_MS = 20_000;

interface BenchJson {
  meta: { errors: string[]; phases: string[] };
  figures: Record<string, { ours: number | null; direct: number | null; ratio: number | null }>;
}

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENCH, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    // SIGINT lets the bench stop its own children before it exits.
    const timer = setTimeout(() => child.kill('SIGINT'), LIMIT_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('bench --quick --only small --json prints one JSON object with numeric figures', { timeout: LIMIT_MS + 5_000 }, async () => {
  const { code, stdout, stderr } = await runBench(['--quick', '--only', 'small', '--json']);
  assert.equal(code, 0, `bench failed:\n${stderr.slice(-2000)}`);
  const result = JSON.parse(stdout) as BenchJson;
  assert.deepEqual(result.meta.errors, []);
  assert.deepEqual(result.meta.phases, ['small']);
  for (const key of ['small.p50Ms', 'small.p99Ms', 'small.rps', 'small.rps.totalCpuUs', 'small.cert.p50Ms', 'small.resumed.p50Ms']) {
    const f = result.figures[key];
    assert.ok(f, `figure ${key} missing`);
    assert.equal(typeof f.ours, 'number', `${key}.ours`);
    assert.equal(typeof f.direct, 'number', `${key}.direct`);
    assert.ok(f.ours! > 0 && f.direct! > 0, `${key} is positive`);
  }
  // CPU per request is split by process: the proxy's share is part of the total.
  const proxyCpu = result.figures['small.rps.proxyCpuUs']?.ours;
  assert.ok(typeof proxyCpu === 'number' && proxyCpu > 0 && proxyCpu < result.figures['small.rps.totalCpuUs']!.ours!, `proxy CPU per request ${proxyCpu}`);
  // The returning client's figure is one only if its connections did resume.
  assert.deepEqual([result.figures['small.resumed.percent']?.ours, result.figures['small.resumed.percent']?.direct], [100, 100]);
});

test('bench --only footprint reads the proxy RSS with 0 and 20 configured clusters through the probe', { timeout: LIMIT_MS + 5_000 }, async () => {
  const { code, stdout, stderr } = await runBench(['--quick', '--only', 'footprint', '--configured', '0,20', '--footprint-modes', 'file', '--json']);
  assert.equal(code, 0, `bench failed:\n${stderr.slice(-2000)}`);
  const result = JSON.parse(stdout) as BenchJson;
  assert.deepEqual(result.meta.errors, []);
  for (const key of ['footprint.file.0.rssMb', 'footprint.file.20.rssMb', 'footprint.file.20.heapUsedMb']) {
    const f = result.figures[key];
    assert.ok(f, `figure ${key} missing`);
    // A Node process with the proxy loaded is tens of MB, not bytes or terabytes.
    assert.ok(typeof f.ours === 'number' && f.ours > 5 && f.ours < 4096, `${key} = ${f.ours}`);
  }
  assert.equal(typeof result.figures['footprint.file.perClusterKb']?.ours, 'number');
});
