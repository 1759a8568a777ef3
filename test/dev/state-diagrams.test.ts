import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, fromPromise, not, setup } from 'xstate';
import { GENERATED_MARKER, renderStateDiagram } from '../../dev/diagrams/state-diagrams.js';
import { syncStateDiagrams } from '../../dev/diagrams/generate-state-diagrams.js';

const sample = setup({
  guards: { healthy: () => true, allowed: () => true },
  delays: { retryDelay: 1000 },
  actors: { dial: fromPromise(async () => 'ok') },
}).createMachine({
  id: 'sample',
  initial: 'idle',
  on: { reset: '.idle' },
  states: {
    idle: { on: { start: [{ target: 'working', guard: 'healthy' }, { target: 'done' }], poke: {} } },
    working: {
      initial: 'dialing',
      states: {
        dialing: {
          invoke: { id: 'dialer', src: 'dial', onDone: 'connected', onError: '#sample.backoff' },
        },
        connected: { on: { finish: 'finished' } },
        finished: { type: 'final' },
      },
      onDone: 'done',
    },
    backoff: {
      after: { retryDelay: 'idle', 5000: 'done' },
      always: { target: 'done', guard: and(['allowed', not('healthy')]) },
    },
    watching: {
      type: 'parallel',
      states: {
        left: { initial: 'a', states: { a: {} } },
        right: { initial: 'a', states: { a: {} } },
      },
    },
    done: { type: 'final' },
  },
});

test('renders the sample machine to Mermaid', () => {
  const page = renderStateDiagram('sample', sample);
  const lines = page.split('\n').map((line) => line.trim());
  const has = (line: string) => assert.ok(lines.includes(line), `missing line: ${line}\n${page}`);
  assert.ok(page.startsWith(`${GENERATED_MARKER}\n\n# State machine \`sample\`\n`));
  assert.ok(page.includes('```mermaid\nstateDiagram-v2\n'));
  has('[*] --> idle');
  // composite state with its own initial state
  has('state working {');
  has('[*] --> dialing');
  // guarded edges, in definition order; the fallback has no guard
  has('idle --> working : start [healthy]');
  has('idle --> done : start');
  has('backoff --> done : always [(allowed && !healthy)]');
  // invoked actor outcomes, including to a state outside the composite
  has('dialing : invoke dial');
  has('dialing --> connected : onDone (dial)');
  has('dialing --> backoff : onError (dial)');
  has('working --> done : onDone');
  // final states
  has('finished --> [*]');
  has('done --> [*]');
  // delayed transitions, named and numeric
  has('backoff --> idle : after retryDelay');
  has('backoff --> done : after 5000 ms');
  // parallel regions, and keys used twice get path ids
  has('state watching {');
  has('--');
  has('state "a" as watching_left_a');
  has('state "a" as watching_right_a');
  // what a diagram cannot draw is listed below it
  assert.match(page, /\| `\(any state\)` \| `reset` \| `idle` \|/);
  assert.match(page, /\| `idle` \| `poke` \| `\(stays\)` \|/);
  // an edge sits in the innermost composite holding both ends
  const inWorking = page.slice(page.indexOf('state working {'), page.indexOf('\n  }\n'));
  assert.ok(inWorking.includes('dialing --> connected'), 'inner edge inside its composite');
  assert.ok(!inWorking.includes('dialing --> backoff'), 'outgoing edge at the outer level');
});

test('rendering is deterministic', () => {
  assert.equal(renderStateDiagram('sample', sample), renderStateDiagram('sample', sample));
});

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-diagrams-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('sync writes, then --check finds stale, missing and extra files without writing', async () => {
  await withTempDir(async (outDir) => {
    const machines = { sample, other: sample };
    assert.deepEqual(await syncStateDiagrams({ machines, outDir, check: false }), {
      stale: [],
      missing: ['other.md', 'sample.md'],
      extra: [],
    });
    assert.deepEqual(await syncStateDiagrams({ machines, outDir, check: true }), { stale: [], missing: [], extra: [] });

    await writeFile(join(outDir, 'sample.md'), 'hand edit\n');
    await rm(join(outDir, 'other.md'));
    await writeFile(join(outDir, 'gone.md'), `${GENERATED_MARKER}\nold\n`);
    await writeFile(join(outDir, 'README.md'), 'not generated\n');
    const expected = { stale: ['sample.md'], missing: ['other.md'], extra: ['gone.md'] };
    assert.deepEqual(await syncStateDiagrams({ machines, outDir, check: true }), expected);
    assert.equal(await readFile(join(outDir, 'sample.md'), 'utf8'), 'hand edit\n', 'check mode wrote');

    assert.deepEqual(await syncStateDiagrams({ machines, outDir, check: false }), expected);
    assert.deepEqual((await readdir(outDir)).sort(), ['README.md', 'other.md', 'sample.md']);
    assert.deepEqual(await syncStateDiagrams({ machines, outDir, check: true }), { stale: [], missing: [], extra: [] });
  });
});

test('a machine id that cannot be a file name is refused', async () => {
  await withTempDir(async (outDir) => {
    await assert.rejects(syncStateDiagrams({ machines: { '../evil': sample }, outDir, check: true }), /cannot be a file name/);
  });
});

test('the CLI in --check mode exits 1 and names the extra file', async () => {
  const cli = fileURLToPath(new URL('../../dev/diagrams/generate-state-diagrams.js', import.meta.url));
  await withTempDir(async (outDir) => {
    await writeFile(join(outDir, 'gone.md'), `${GENERATED_MARKER}\n`);
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, [cli, '--check', '--out', outDir], (err, out) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout: out });
      });
    });
    assert.equal(code, 1);
    assert.match(stdout, /^extra: .*gone\.md$/m);
    assert.match(stdout, /run: npm run diagrams/);
    assert.deepEqual(await readdir(outDir), ['gone.md']);
  });
});
