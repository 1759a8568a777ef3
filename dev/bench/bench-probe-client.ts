/**
 * The bench's side of bench-probe.ts: node flags and environment that preload the probe
 * into a child, and calls into it (write the command file, SIGUSR2, wait for the answer).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchChild } from './bench-children.js';
import type { ProbeAnswer, ProbeCommand, ProbeEld, ProbeGcState, ProbeMemory } from './bench-probe.js';

const PROBE_ENTRY = 'dist/dev/bench/bench-probe.js';

/** Node flags and environment for a child that should carry the probe. */
export function probeSpawn(repoRoot: string, base: string): { nodeArgs: string[]; env: Record<string, string> } {
  return { nodeArgs: ['--import', pathToFileURL(join(repoRoot, PROBE_ENTRY)).href], env: { TOWER_BENCH_PROBE: base } };
}

type Without<T> = T extends unknown ? Omit<T, 'seq'> : never;

export class Probe {
  #seq = 0;
  /** One call at a time: the command and answer files are shared. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly child: BenchChild,
    private readonly base: string,
  ) {}

  /** Memory of the child, after a full GC when `gc` (the default). */
  async memory(gc = true): Promise<ProbeMemory> {
    const answer = await this.#call({ op: 'memory', gc }, 60_000);
    if (!answer.memory) throw new Error(`${this.child.name}: probe answered without memory`);
    return answer.memory;
  }

  /** Write a heap snapshot (after a GC) to `path`; can take seconds for a large heap. */
  async snapshot(path: string): Promise<string> {
    const answer = await this.#call({ op: 'snapshot', path }, 600_000);
    return answer.path ?? path;
  }

  async eldStart(): Promise<void> {
    await this.#call({ op: 'eld-start' }, 30_000);
  }

  /** Event-loop delay since eldStart(), beyond the 10 ms sampling interval. */
  async eldRead(): Promise<ProbeEld | null> {
    return (await this.#call({ op: 'eld-read' }, 30_000)).eld ?? null;
  }

  /** The child's last GC: how long ago, and whether V8's memory reducer ran it (none yet: null). */
  async gcState(): Promise<ProbeGcState | null> {
    return (await this.#call({ op: 'gc-state' }, 30_000)).gc ?? null;
  }

  #call(command: Without<ProbeCommand>, timeoutMs: number): Promise<Extract<ProbeAnswer, { ok: true }>> {
    const next = this.#queue.then(() => this.#send(command, timeoutMs));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #send(command: Without<ProbeCommand>, timeoutMs: number): Promise<Extract<ProbeAnswer, { ok: true }>> {
    const seq = ++this.#seq;
    const out = `${this.base}.out`;
    rmSync(out, { force: true });
    writeFileSync(`${this.base}.cmd`, JSON.stringify({ ...command, seq }));
    if (this.child.hasExited()) throw new Error(`${this.child.name} has exited`);
    this.child.process.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    for (let delay = 5; Date.now() < deadline; delay = Math.min(100, delay * 2)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.child.hasExited()) throw new Error(`${this.child.name} exited during probe ${command.op}`);
      let answer: ProbeAnswer;
      try {
        answer = JSON.parse(readFileSync(out, 'utf8')) as ProbeAnswer;
      } catch {
        continue; // not written yet
      }
      if (answer.seq !== seq) continue;
      if (!answer.ok) throw new Error(`${this.child.name}: probe ${command.op}: ${answer.error}`);
      return answer;
    }
    throw new Error(`${this.child.name}: probe ${command.op} got no answer within ${timeoutMs} ms`);
  }
}
