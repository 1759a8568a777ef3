/**
 * Summarize a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. the proxy child of
 * `npm run bench -- --proxy-node-arg=--cpu-prof --proxy-node-arg=--cpu-prof-dir=DIR`):
 * the top frames by self time, and by package/file.
 *
 *   node dist/dev/bench/bench-cpuprofile.js FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FrameTime {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
}

export function summarizeProfile(profile: Profile, top: number): { totalMs: number; frames: FrameTime[]; files: FrameTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const frames = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const where = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'} ${where ? `${where}:${frame.lineNumber + 1}` : ''}`.trim();
    frames.set(name, (frames.get(name) ?? 0) + us);
    const file = where || frame.functionName;
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const rank = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / Math.max(1, totalUs) }));
  return { totalMs: totalUs / 1000, frames: rank(frames), files: rank(files) };
}

/** `node_modules/ssh2/lib/protocol/Protocol.js` → `ssh2/lib/protocol/Protocol.js`; node internals as `node:…`. */
function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: bench-cpuprofile FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top));
  const line = (f: FrameTime) => `${f.percent.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}`;
  process.stdout.write(`total sampled ${summary.totalMs.toFixed(0)} ms\n\nby frame (self time):\n`);
  process.stdout.write(`${summary.frames.map(line).join('\n')}\n\nby file (self time):\n${summary.files.map(line).join('\n')}\n`);
}
