/**
 * Writes docs/state-diagrams/<id>.md for every machine in src/machines/index.ts.
 *
 *   node dist/dev/diagrams/generate-state-diagrams.js [--check] [--out DIR]
 *
 * `--check` writes nothing: it lists stale, missing and extra diagram files and exits 1 if
 * there are any (0 when all are current). Extra means a generated file (one carrying
 * GENERATED_MARKER) with no machine; other files in the directory are left alone.
 * Exit 2: bad usage or a machine id that cannot be a file name.
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { AnyStateMachine } from 'xstate';
import { GENERATED_MARKER, renderStateDiagram } from './state-diagrams.js';

/** A machine id must make a plain file name. */
const FILE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** How far up from this module to look for package.json. */
const MAX_PARENT_DIRS = 8;

export interface DiagramSyncOptions {
  readonly machines: Readonly<Record<string, AnyStateMachine>>;
  readonly outDir: string;
  /** Write nothing; only report. */
  readonly check: boolean;
}

/** File names (`<id>.md`) in each category, sorted. */
export interface DiagramSyncResult {
  /** Present with other content than the machine renders to. */
  readonly stale: readonly string[];
  /** A machine without its file. */
  readonly missing: readonly string[];
  /** A generated file without its machine. */
  readonly extra: readonly string[];
}

/** In write mode, stale and missing files are (re)written and extra ones deleted. */
export async function syncStateDiagrams(options: DiagramSyncOptions): Promise<DiagramSyncResult> {
  const wanted = new Map<string, string>();
  for (const id of Object.keys(options.machines).sort()) {
    if (!FILE_ID.test(id)) throw new Error(`machine id ${JSON.stringify(id)} cannot be a file name; use letters, digits, '.', '_' and '-'`);
    const machine = options.machines[id];
    if (machine) wanted.set(`${id}.md`, renderStateDiagram(id, machine));
  }
  const present = new Map<string, string>();
  if (existsSync(options.outDir)) {
    for (const file of (await readdir(options.outDir)).sort()) {
      if (file.endsWith('.md')) present.set(file, await readFile(join(options.outDir, file), 'utf8'));
    }
  }
  const stale: string[] = [];
  const missing: string[] = [];
  for (const [file, text] of wanted) {
    const current = present.get(file);
    if (current === undefined) missing.push(file);
    else if (current !== text) stale.push(file);
  }
  const extra = [...present].filter(([file, text]) => !wanted.has(file) && text.includes(GENERATED_MARKER)).map(([file]) => file);

  if (!options.check) {
    await mkdir(options.outDir, { recursive: true });
    for (const file of [...stale, ...missing]) await writeFile(join(options.outDir, file), wanted.get(file) ?? '');
    for (const file of extra) await rm(join(options.outDir, file));
  }
  return { stale, missing, extra };
}

/** The directory of the nearest package.json above this module. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_PARENT_DIRS; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

async function main(argv: readonly string[]): Promise<number> {
  let values: { check?: boolean; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { check: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`generate-state-diagrams: ${err instanceof Error ? err.message : String(err)}; see --help\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write('usage: generate-state-diagrams [--check] [--out DIR]   (default DIR: docs/state-diagrams)\n');
    return 0;
  }
  const outDir = resolve(values.out ?? join(packageRoot(), 'docs', 'state-diagrams'));
  const { allMachines } = await import('../../src/machines/index.js');
  const check = values.check === true;
  let result: DiagramSyncResult;
  try {
    result = await syncStateDiagrams({ machines: allMachines, outDir, check });
  } catch (err) {
    process.stderr.write(`generate-state-diagrams: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const shown = (file: string): string => {
    const path = relative(process.cwd(), join(outDir, file));
    return path.startsWith('..') ? join(outDir, file) : path;
  };
  const lines = [
    ...result.stale.map((f) => `${check ? 'stale' : 'updated'}: ${shown(f)}`),
    ...result.missing.map((f) => `${check ? 'missing' : 'created'}: ${shown(f)}`),
    ...result.extra.map((f) => `${check ? 'extra' : 'deleted'}: ${shown(f)}`),
  ];
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  if (check && lines.length > 0) {
    process.stdout.write('state diagrams are out of date; run: npm run diagrams\n');
    return 1;
  }
  if (lines.length === 0) process.stdout.write(`state diagrams are current (${Object.keys(allMachines).length} machines)\n`);
  return 0;
}

/** True when this module is the program (`node generate-state-diagrams.js`), not imported. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main(process.argv.slice(2));
