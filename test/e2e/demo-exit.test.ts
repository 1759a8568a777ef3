/**
 * `npm start` ends cleanly on every exit path: Ctrl-C with its output piped through `tee`
 * (the terminal's SIGINT reaches the whole pipeline, so the demo's output breaks while it
 * stops), SIGTERM to the demo process alone, and `kill -9` of the demo (its children stop
 * themselves; the next start recognises the stale lock and says so). Each time: no demo,
 * proxy or agent process and no lock left within seconds.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { looksAlive } from '../../dev/demo/lock.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { BinProcess } from '../helpers/bin-process.js';

/** How long everything may take to go away after the signal. */
const GONE_WITHIN_MS = 10_000;
const READY_MS = 120_000;

const started: BinProcess[] = [];
const pidsSeen = new Set<number>();
const dirs: string[] = [];

/** `npm start -- --dir DIR`, in a process group of its own (as a terminal's job is), optionally piped through tee. */
function startDemo(dir: string, viaTee = false): BinProcess {
  const command = `npm start --silent -- --dir '${dir}'${viaTee ? ` | tee '${join(dir, 'tee.log')}'` : ''}`;
  const proc = new BinProcess('sh', ['-c', command], { cwd: PACKAGE_ROOT, detached: true, env: { ...process.env, KUBECONFIG: '' } });
  started.push(proc);
  return proc;
}

/** The pids the demo printed: its own, the proxy's and the agent's. */
async function demoPids(demo: BinProcess): Promise<{ demo: number; proxy: number; agent: number }> {
  const pid = async (pattern: RegExp, what: string) => {
    const value = Number(pattern.exec((await demo.waitLine(pattern, what, READY_MS)).text)![1]);
    pidsSeen.add(value);
    return value;
  };
  return {
    demo: await pid(/^Tower demo \(pid (\d+)\)/, 'the demo to start'),
    proxy: await pid(/bin\/proxy listening on \S+ \(pid (\d+);/, 'the proxy to listen'),
    agent: await pid(/bin\/agent --name alpha started \(pid (\d+);/, 'the agent to start'),
  };
}

/** Resolves once none of `pids` is alive; fails naming the survivors after GONE_WITHIN_MS. */
async function allGone(pids: readonly number[], what: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    const alive = pids.filter(looksAlive);
    if (alive.length === 0) return Date.now() - start;
    if (Date.now() - start > GONE_WITHIN_MS) assert.fail(`${what}: still running after ${GONE_WITHIN_MS} ms: pids ${alive.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function newDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-demo-exit-'));
  dirs.push(dir);
  return dir;
}

async function noErrorsIn(dir: string, demo: BinProcess): Promise<void> {
  const texts = [demo.output()];
  for (const file of ['proxy.log', 'agent.log', 'tee.log']) {
    if (existsSync(join(dir, file))) texts.push(await readFile(join(dir, file), 'utf8'));
  }
  for (const text of texts) assert.doesNotMatch(text, /EPIPE|Unhandled|uncaught|\n\s+at .*\.js:\d+:\d+/i, text.slice(-2000));
}

describe('the demo cleans up on every exit path', { timeout: 400_000 }, () => {
  after(async () => {
    for (const proc of started) proc.kill('SIGKILL');
    for (const pid of pidsSeen) if (looksAlive(pid)) process.kill(pid, 'SIGKILL');
    await Promise.all(started.map((p) => p.exited));
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('Ctrl-C of `npm start | tee log`: the broken output does not stop the shutdown', async () => {
    const dir = await newDir();
    const demo = startDemo(dir, true);
    const pids = await demoPids(demo);
    await demo.waitLine(/Press Ctrl-C to stop everything/, 'the demo to be ready', READY_MS);
    // A terminal's Ctrl-C: SIGINT to every process of the foreground job, tee included.
    demo.kill('SIGINT');
    const tookMs = await allGone([pids.demo, pids.proxy, pids.agent], 'after Ctrl-C');
    assert.equal(existsSync(join(dir, 'lock')), false, 'the lock is released');
    await noErrorsIn(dir, demo);
    await demo.waitExit('the pipeline to end');
    console.log(`# Ctrl-C through tee: everything gone in ${tookMs} ms`);
  });

  it('SIGTERM to the demo process alone stops the proxy and the agent too', async () => {
    const dir = await newDir();
    const demo = startDemo(dir);
    const pids = await demoPids(demo);
    await demo.waitLine(/Press Ctrl-C to stop everything/, 'the demo to be ready', READY_MS);
    process.kill(pids.demo, 'SIGTERM');
    const tookMs = await allGone([pids.demo, pids.proxy, pids.agent], 'after SIGTERM to the demo');
    assert.equal(existsSync(join(dir, 'lock')), false, 'the lock is released');
    const exit = await demo.waitExit('npm to end');
    assert.equal(exit.code, 0, demo.tail());
    await demo.waitLine(/\[demo\] stopped\./, 'the demo to say it stopped');
    await noErrorsIn(dir, demo);
    console.log(`# SIGTERM to the demo: everything gone in ${tookMs} ms`);
  });

  it('kill -9 of the demo: its children stop themselves; the next start says the lock was stale', async () => {
    const dir = await newDir();
    const demo = startDemo(dir);
    const pids = await demoPids(demo);
    await demo.waitLine(/Press Ctrl-C to stop everything/, 'the demo to be ready', READY_MS);
    process.kill(pids.demo, 'SIGKILL');
    const tookMs = await allGone([pids.demo, pids.proxy, pids.agent], 'after kill -9 of the demo');
    await demo.waitExit('npm to end');
    assert.equal((await readFile(join(dir, 'lock'), 'utf8')).trim(), String(pids.demo), 'a killed process cannot release its lock');

    const again = startDemo(dir);
    const line = await again.waitLine(/stale lock/, 'the stale lock message', READY_MS);
    assert.match(line.text, new RegExp(`removed a stale lock .*lock: its demo \\(pid ${pids.demo}\\) is no longer running`));
    const second = Number(/^Tower demo \(pid (\d+)\)/.exec((await again.waitLine(/^Tower demo \(pid \d+\)/, 'the second demo')).text)![1]);
    pidsSeen.add(second);
    // Stopped while still starting: it must clean up what it has started so far.
    process.kill(second, 'SIGTERM');
    assert.equal((await again.waitExit('the second demo to stop', GONE_WITHIN_MS * 3)).code, 0, again.tail());
    assert.equal(existsSync(join(dir, 'lock')), false, 'the second demo released the lock');
    const children = [...again.output().matchAll(/\(pid (\d+);/g)].map((m) => Number(m[1]));
    await allGone(children, 'the second demo\'s children');
    console.log(`# kill -9 of the demo: children gone in ${tookMs} ms`);
  });
});
