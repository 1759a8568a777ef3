/**
 * What V8 young generation the proxy and the agent run with in their Deployments, and that
 * `npm run bench -- --as-deployed` gives the bench's children the same
 * (dev/bench/deployed-heap.ts). Node sizes V8's heap from the cgroup's memory limit, so
 * `node` runs here in a memory cgroup with each Deployment's limit, read from the rendered
 * manifests, and reports the largest new space it grew to under allocation churn. Needs
 * root and a writable memory cgroup (v1 or v2); skipped otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEPLOYED_HEAP_NODE_ARGS, DEPLOYED_NEW_SPACE_BYTES } from '../../dev/bench/deployed-heap.js';
import { parseBenchOptions } from '../../dev/bench/bench-options.js';
import { render, type Manifest } from './manifests.js';

/** Churns the young generation and prints the largest new space seen, in bytes. */
const PROBE = `
const v8 = require('node:v8');
let keep = [], max = 0;
for (let i = 0; i < 2e6; i += 1) {
  keep.push({ i, a: [i] });
  if (keep.length > 100000) keep = [];
  if (i % 50000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
}
console.log(max);`;

interface MemoryCgroup {
  readonly dir: string;
  readonly limitFile: string;
}

/** A fresh memory cgroup (v2 where mounted so, else v1), or why there is none. */
async function memoryCgroup(name: string): Promise<MemoryCgroup | string> {
  if (process.getuid?.() !== 0) return 'needs root to make a memory cgroup';
  const candidates: Array<{ root: string; marker: string; limit: string }> = [
    { root: '/sys/fs/cgroup/memory', marker: 'memory.limit_in_bytes', limit: 'memory.limit_in_bytes' }, // v1
    { root: '/sys/fs/cgroup', marker: 'cgroup.controllers', limit: 'memory.max' }, // v2, unified
  ];
  for (const { root, marker, limit } of candidates) {
    if (!existsSync(join(root, marker))) continue;
    const dir = join(root, name);
    try {
      await mkdir(dir);
      if (existsSync(join(dir, limit))) return { dir, limitFile: join(dir, limit) };
      await rmdir(dir);
    } catch {
      // not writable here; try the next
    }
  }
  return 'no writable memory cgroup (v1 /sys/fs/cgroup/memory or v2 with the memory controller)';
}

/** The largest new space a `node` (this one) grows to, inside `cgroup` when given. */
function newSpaceMax(nodeArgs: readonly string[], cgroup?: MemoryCgroup): Promise<number> {
  const script = cgroup
    ? `echo $$ > ${join(cgroup.dir, 'cgroup.procs')} && exec "$0" "$@"`
    : 'exec "$0" "$@"';
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script, process.execPath, ...nodeArgs, '-e', PROBE], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`node ${nodeArgs.join(' ')}: ${stderr.trim() || error.message}`));
      resolve(Number(stdout.trim()));
    });
  });
}

/** "384Mi" → bytes. */
function mebibytes(quantity: string): number {
  const m = /^(\d+)Mi$/.exec(quantity);
  if (!m) throw new Error(`memory limit ${quantity}: expected a quantity in Mi`);
  return Number(m[1]) * 1024 * 1024;
}

function memoryLimit(objects: readonly Manifest[], deployment: string): number {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === deployment);
  const container = (d?.['spec'] as { template: { spec: { containers: Array<{ resources?: { limits?: { memory?: string } } }> } } } | undefined)
    ?.template.spec.containers[0];
  const limit = container?.resources?.limits?.memory;
  if (!limit) throw new Error(`Deployment ${deployment}: no memory limit`);
  return mebibytes(limit);
}

const cgroup = await memoryCgroup(`tower-deployed-heap-${process.pid}`);

describe('the V8 young generation of the Deployments, and the bench as deployed', { skip: typeof cgroup === 'string' && cgroup }, () => {
  const group = cgroup as MemoryCgroup;
  after(async () => {
    await rmdir(group.dir).catch(() => {});
  });

  for (const [base, deployment] of [
    ['member/base', 'cluster-agent'],
    ['host/base', 'tower'],
  ] as const) {
    it(`${deployment} (${base}): under its memory limit, node's new space stays within what --as-deployed gives`, async (t) => {
      const limit = memoryLimit(await render(base), deployment);
      await writeFile(group.limitFile, String(limit));
      const deployed = await newSpaceMax([], group);
      t.diagnostic(`limit ${limit / 2 ** 20} MiB: new space at most ${deployed / 2 ** 20} MiB`);
      assert.equal(deployed, DEPLOYED_NEW_SPACE_BYTES);
    });
  }

  it('the flags give an unlimited node the same new space; without them it grows larger on this host', async (t) => {
    const [flagged, host] = await Promise.all([newSpaceMax(DEPLOYED_HEAP_NODE_ARGS), newSpaceMax([])]);
    t.diagnostic(`with ${DEPLOYED_HEAP_NODE_ARGS.join(' ')}: ${flagged / 2 ** 20} MiB; host default: ${host / 2 ** 20} MiB`);
    assert.equal(flagged, DEPLOYED_NEW_SPACE_BYTES);
    // V8 scales its default with the machine's memory; a small host may get the same.
    if (totalmem() >= 4 * 2 ** 30) assert.ok(host > DEPLOYED_NEW_SPACE_BYTES, `host default ${host}`);
  });
});

it('npm run bench -- --as-deployed puts the flags before any the user adds, for the proxy and the agent', () => {
  const opts = parseBenchOptions(['--as-deployed', '--proxy-node-arg=--cpu-prof']);
  assert.ok(opts !== 'help');
  assert.equal(opts.asDeployed, true);
  assert.deepEqual(opts.proxyNodeArgs, [...DEPLOYED_HEAP_NODE_ARGS, '--cpu-prof']);
  assert.deepEqual(opts.agentNodeArgs, [...DEPLOYED_HEAP_NODE_ARGS]);
  const plain = parseBenchOptions([]);
  assert.ok(plain !== 'help');
  assert.deepEqual([plain.asDeployed, plain.proxyNodeArgs, plain.agentNodeArgs], [false, [], []]);
});
