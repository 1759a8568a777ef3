/**
 * Where the memory goes (issue 10, item 1): process.memoryUsage() breakdowns and heap
 * snapshots of the real proxy and agent in the scenarios of the footprint figures, and
 * what each module costs to load. Writes JSON and the snapshots to --out, prints Markdown.
 *
 *   node dist/dev/bench/bench-heap.js [--out DIR] [--configured 0,200,2000] [--agents 200,1000]
 *                                     [--bulk-mib 200] [--top 25] [--no-snapshots]
 *
 * Scenarios: the proxy (`--clusters` file mode) with N configured clusters and no agent; the
 * proxy with N simulated idle agents, each its own cluster; the real agent connected and
 * idle, and during a bulk GET through it. Each reading is taken before any snapshot of the
 * same process (writing a snapshot grows it). Module costs: a fresh `node` per module, RSS and
 * V8 heap after a GC, minus a bare `node` — including the import graphs of bin/proxy and
 * bin/agent, the PKI worker pool with its thread, and `--inspect`.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createBenchEnv, REPO_ROOT, type BenchEnv, type ProxyChild } from './bench-env.js';
import { summarizeHeapSnapshot, type HeapSummary } from './bench-heap-snapshot.js';
import type { StreamResult } from './bench-load-jobs.js';
import { startHeld } from './bench-load-run.js';
import { settledMemory, MB, type MemoryReading } from './bench-memory.js';
import { simFleet } from './bench-phase-sessions.js';
import { startTunnel } from './bench-tunnel.js';

const run = promisify(execFile);

/** Classes whose mean retained size is worth knowing, per agent or per cluster. */
const CLASSES = [
  'ProxySession', 'ClusterGateway', 'Client', 'Server', 'Socket', 'TLSSocket', 'WebSocket', 'Protocol', 'SSHTTPAgent',
  'TunnelConnections', 'TlsTunnelConnections', 'UpstreamPool', 'Actor', 'StateMachine', 'StateNode', 'Piscina', 'Registry', 'KubeConfig', 'ChannelRelay',
];

interface Scenario {
  readonly name: string;
  /** Clusters or agents the scenario adds over its baseline, to divide differences by. */
  readonly units?: { readonly of: string; readonly n: number; readonly baseline: string };
  readonly memory: MemoryReading;
  readonly snapshot?: HeapSummary;
  readonly snapshotFile?: string;
}

interface ModuleCost {
  readonly name: string;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly threads: number;
}

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(process.cwd(), 'bench-heap') },
    configured: { type: 'string', default: '0,200,2000' },
    agents: { type: 'string', default: '200,1000' },
    'bulk-mib': { type: 'string', default: '200' },
    top: { type: 'string', default: '25' },
    'no-snapshots': { type: 'boolean', default: false },
  },
});
const ints = (text: string) => text.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 0);
const out = resolve(values.out!);
const top = Number(values.top);
const snapshots = !values['no-snapshots'];
const log = (line: string) => process.stderr.write(`bench-heap: ${line}\n`);

async function main(): Promise<void> {
  await mkdir(out, { recursive: true });
  const modules = await moduleCosts();
  const env = await createBenchEnv();
  const scenarios: Scenario[] = [];
  try {
    const configured = ints(values.configured!);
    const all = await env.clusters('heap', Math.max(0, ...configured));
    for (const n of configured) {
      const file = await env.writeClusters(`clusters-heap-${n}.json`, all.slice(0, n));
      scenarios.push(await proxyScenario(env, `proxy, ${n} clusters configured, no agent`, file, n ? { of: 'cluster', n, baseline: `proxy, 0 clusters configured, no agent` } : undefined));
    }
    for (const n of ints(values.agents!)) scenarios.push(...(await agentsScenarios(env, n)));
    scenarios.push(...(await agentScenarios(env, Number(values['bulk-mib']) * MB)));
  } finally {
    await env.close();
  }
  const result = { modules, scenarios: scenarios.map(({ snapshot, ...rest }) => ({ ...rest, snapshot })) };
  await writeFile(join(out, 'bench-heap.json'), JSON.stringify(result, null, 1));
  process.stdout.write(report(modules, scenarios));
}

async function snapshotOf(probe: ProxyChild['probe'], name: string): Promise<Pick<Scenario, 'snapshot' | 'snapshotFile'>> {
  if (!snapshots) return {};
  const file = join(out, `${name.replace(/[^\w]+/g, '-')}.heapsnapshot`);
  await probe.snapshot(file);
  return { snapshotFile: file, snapshot: summarizeHeapSnapshot(file, CLASSES, top * 2) };
}

async function proxyScenario(env: BenchEnv, name: string, clustersFile: string, units: Scenario['units']): Promise<Scenario> {
  const [port] = await env.ports(1);
  const proxy = await env.startProxy({ port: port!, clustersFile, logName: `proxy-heap-${name.replace(/\W+/g, '-')}`, healthTimeoutMs: 60_000 });
  try {
    const memory = await settledMemory(proxy.child.pid, proxy.probe, env.settleMs);
    log(`${name}: RSS ${(memory.rssIdle / MB).toFixed(1)} MB`);
    return { name, ...(units ? { units } : {}), memory, ...(await snapshotOf(proxy.probe, name)) };
  } finally {
    await proxy.child.stop();
  }
}

/**
 * The proxy with `n` configured clusters, then a fresh proxy with the same clusters and `n`
 * simulated idle agents, each its own cluster. Two processes: writing a heap snapshot grows
 * the process, so the baseline's snapshot must not be in the second reading.
 */
async function agentsScenarios(env: BenchEnv, n: number): Promise<Scenario[]> {
  const clusters = await env.clusters(`heap-a${n}`, n);
  const [port] = await env.ports(1);
  const file = await env.writeClusters(`clusters-heap-agents-${n}.json`, clusters);
  const baseline = `proxy, ${n} clusters configured, before its agents`;
  const before = await proxyScenario(env, baseline, file, undefined);
  const proxy = await env.startProxy({ port: port!, clustersFile: file, logName: `proxy-heap-agents-${n}`, healthTimeoutMs: 60_000 });
  const sims = simFleet(env, port!, clusters, 0);
  try {
    await sims.waitConnected(n, 300_000);
    const name = `proxy, ${n} idle agents (own clusters)`;
    const memory = await settledMemory(proxy.child.pid, proxy.probe, env.settleMs, 60_000);
    log(`${name}: RSS ${(memory.rssIdle / MB).toFixed(1)} MB (${(before.memory.rssIdle / MB).toFixed(1)} MB before them)`);
    return [before, { name, units: { of: 'agent', n, baseline }, memory, ...(await snapshotOf(proxy.probe, name)) }];
  } finally {
    await sims.close();
    await proxy.child.stop();
  }
}

/** The real agent connected and idle; then another agent during a bulk GET through it (no GC: as it runs). */
async function agentScenarios(env: BenchEnv, bytes: number): Promise<Scenario[]> {
  const first = await startTunnel(env, { name: 'heap-agent-idle' });
  let idle: Scenario;
  try {
    idle = { name: 'agent, connected and idle', memory: await settledMemory(first.agent.pid, first.agent.probe, env.settleMs), ...(await snapshotOf(first.agent.probe, 'agent idle')) };
  } finally {
    await first.stop();
  }
  const tunnel = await startTunnel(env, { name: 'heap-agent-loaded' });
  try {
    const target = tunnel.paths.kube.tunnel;
    const stream = startHeld<StreamResult>(env.children, { kind: 'stream', target: { ...target, url: `${target.url}/bytes?n=${bytes}` }, maxMs: 300_000, timeoutMs: 60_000 });
    let loaded: Scenario;
    try {
      await stream.ready;
      await new Promise((done) => setTimeout(done, 500));
      const rssIdle = (await tunnel.agent.probe.memory(false)).rss;
      loaded = { name: 'agent, during a bulk GET', memory: { rssIdle, rssUnsettled: rssIdle, settled: false, afterGc: await tunnel.agent.probe.memory(true) }, ...(await snapshotOf(tunnel.agent.probe, 'agent loaded')) };
    } finally {
      await stream.stop();
    }
    log(`agent: RSS ${(idle.memory.rssIdle / MB).toFixed(1)} MB idle, ${(loaded.memory.rssIdle / MB).toFixed(1)} MB during the GET`);
    return [idle, loaded];
  } finally {
    await tunnel.stop();
  }
}

/** What loading each module costs a fresh node: RSS and heap after GC, minus bare node. */
async function moduleCosts(): Promise<ModuleCost[]> {
  const measure = async (name: string, code: string, nodeArgs: string[] = []): Promise<ModuleCost> => {
    const script = `${code}\nglobalThis.gc(); globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); globalThis.gc();` +
      `const m = process.memoryUsage(); const t = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8');` +
      `console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, threads: Number(/^Threads:\\s+(\\d+)/m.exec(t)[1]) })); process.exit(0);`;
    const { stdout } = await run(process.execPath, [...nodeArgs, '--expose-gc', '--input-type=module', '-e', script], { cwd: REPO_ROOT, timeout: 60_000 });
    return { name, ...(JSON.parse(stdout.trim().split('\n').pop()!) as Omit<ModuleCost, 'name'>) };
  };
  const graph = async (entry: string) => {
    const file = join(REPO_ROOT, entry);
    const text = await readFile(file, 'utf8');
    const specs = [...text.matchAll(/^import (?:[^'"]* from )?['"]([^'"]+)['"];$/gm)].map((m) => m[1]!);
    return specs.map((s) => (s.startsWith('.') ? `import(${JSON.stringify(new URL(s, `file://${dirname(file)}/`).href)})` : `import(${JSON.stringify(s)})`)).join(', ');
  };
  const pkiPool = `const { PkiPool } = await import(${JSON.stringify(`file://${REPO_ROOT}dist/src/workers/pki-pool.js`)});` +
    `const { createSelfSignedCa } = await import(${JSON.stringify(`file://${REPO_ROOT}dist/src/pki/index.js`)});` +
    // The pool starts its thread at the first certificate (and ends it after 30 s idle).
    `const pool = await PkiPool.create(await createSelfSignedCa(), { mode: 'worker' }); await pool.issueServingCert({ hosts: ['127.0.0.1'] }); await new Promise((r) => setTimeout(r, 1500));`;
  const specs: Array<[string, string, string[]?]> = [
    ['bare node', ''],
    ['node --inspect (inspector agent)', '', ['--inspect=127.0.0.1:0']],
    ...['xstate', 'ssh2', 'ws', 'pino', 'prom-client', '@kubernetes/client-node', '@statelyai/inspect', 'piscina', 'meow', 'yaml', 'https-proxy-agent'].map(
      (m): [string, string] => [m, `await import(${JSON.stringify(m)});`],
    ),
    ['@peculiar/x509 (+ reflect-metadata)', `await import('reflect-metadata'); await import('@peculiar/x509');`],
    ['prom-client + collectDefaultMetrics', `const p = await import('prom-client'); p.collectDefaultMetrics({ register: new p.Registry() });`],
    ['bin/proxy import graph', `await Promise.all([${await graph('dist/src/bin/proxy.js')}]);`],
    ['bin/agent import graph', `await Promise.all([${await graph('dist/src/bin/agent.js')}]);`],
    ['PKI worker pool after its first certificate (piscina, 1 idle thread)', pkiPool],
  ];
  const costs: ModuleCost[] = [];
  for (const [name, code, args] of specs) {
    costs.push(await measure(name, code, args));
    log(`module ${name}: RSS ${(costs[costs.length - 1]!.rss / MB).toFixed(1)} MB`);
  }
  return costs;
}

function report(modules: readonly ModuleCost[], scenarios: readonly Scenario[]): string {
  const mb = (n: number) => (n / MB).toFixed(1);
  const kb = (n: number) => (n / 1024).toFixed(1);
  const lines: string[] = ['## Module costs (fresh node, after GC; Δ = minus bare node)', '', '| module | RSS MB | Δ RSS MB | Δ heap MB | Δ external MB | threads |', '|---|---:|---:|---:|---:|---:|'];
  const bare = modules[0]!;
  for (const m of modules) lines.push(`| ${m.name} | ${mb(m.rss)} | ${mb(m.rss - bare.rss)} | ${mb(m.heapUsed - bare.heapUsed)} | ${mb(m.external - bare.external)} | ${m.threads} |`);
  lines.push('', '## Breakdown by scenario (MB; after a forced GC except "RSS idle")', '', '| scenario | RSS idle | RSS | heap used | heap total | external | array buffers | code+bytecode | RSS anon | RSS file | threads |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of scenarios) {
    const m = s.memory.afterGc;
    lines.push(`| ${s.name} | ${mb(s.memory.rssIdle)} | ${mb(m.rss)} | ${mb(m.heapUsed)} | ${mb(m.heapTotal)} | ${mb(m.external)} | ${mb(m.arrayBuffers)} | ${mb(m.code.codeAndMetadata + m.code.bytecodeAndMetadata)} | ${mb(m.rssAnon)} | ${mb(m.rssFile)} | ${m.threads} |`);
  }
  for (const s of scenarios) {
    if (!s.snapshot) continue;
    lines.push('', `## ${s.name}: heap snapshot (${mb(s.snapshot.totalBytes)} MB, ${s.snapshot.nodes} nodes)`, '');
    lines.push(`By type: ${Object.entries(s.snapshot.byType).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([t, b]) => `${t} ${mb(b)}`).join(', ')}`, '');
    lines.push('| constructor | count | KB |', '|---|---:|---:|', ...s.snapshot.byConstructor.slice(0, top).map((g) => `| ${g.name} | ${g.count} | ${kb(g.bytes)} |`));
    lines.push('', '| functions by package/file | count | KB |', '|---|---:|---:|', ...s.snapshot.byScript.slice(0, Math.min(top, 15)).map((g) => `| ${g.name} | ${g.count} | ${kb(g.bytes)} |`));
    const base = s.units ? scenarios.find((b) => b.name === s.units!.baseline) : undefined;
    if (s.units && base?.snapshot) {
      const n = s.units.n;
      const before = new Map(base.snapshot.byConstructor.map((g) => [g.name, g]));
      const growth = s.snapshot.byConstructor
        .map((g) => ({ name: g.name, count: (g.count - (before.get(g.name)?.count ?? 0)) / n, bytes: (g.bytes - (before.get(g.name)?.bytes ?? 0)) / n }))
        .filter((g) => g.bytes > 0)
        .sort((a, b) => b.bytes - a.bytes)
        .slice(0, top);
      const heap = (s.memory.afterGc.heapUsed - base.memory.afterGc.heapUsed) / n;
      const rss = (s.memory.rssIdle - base.memory.rssIdle) / n;
      lines.push('', `Per ${s.units.of} (vs "${base.name}"): RSS ${kb(rss)} KB, V8 heap ${kb(heap)} KB, external ${kb((s.memory.afterGc.external - base.memory.afterGc.external) / n)} KB. Growth by constructor:`, '');
      lines.push(`| constructor | objects per ${s.units.of} | bytes per ${s.units.of} |`, '|---|---:|---:|', ...growth.map((g) => `| ${g.name} | ${g.count.toFixed(1)} | ${g.bytes.toFixed(0)} |`));
    }
    const retained = Object.entries(s.snapshot.retained).filter(([, r]) => r.count > 0);
    if (retained.length) lines.push('', `Retained per instance: ${retained.map(([c, r]) => `${c} ×${r.count} ${kb(r.meanBytes)} KB`).join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-heap: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
