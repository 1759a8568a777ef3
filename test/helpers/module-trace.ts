/**
 * `node --import dist/test/helpers/module-trace.js …` with TOWER_MODULE_TRACE=FILE: every
 * module the process imports (ESM, and the entry of each CommonJS package) is appended to
 * FILE as it is resolved. Tests read it to check what a mode loads, e.g. that the proxy in
 * `--clusters` mode never imports @kubernetes/client-node. What a worker thread's module
 * imports in turn is not all seen on Node 20: check the main thread's imports with it.
 */
import { readFile } from 'node:fs/promises';
import { register } from 'node:module';

const file = process.env['TOWER_MODULE_TRACE'];
if (file) register(new URL('./module-trace-hooks.js', import.meta.url), { data: { file } });

/** The npm packages among the traced URLs (`@scope/name` or `name`), sorted. */
export async function tracedPackages(traceFile: string): Promise<string[]> {
  const text = await readFile(traceFile, 'utf8').catch(() => '');
  const packages = new Set<string>();
  for (const url of text.split('\n')) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match) packages.add(match[1]!);
  }
  return [...packages].sort();
}
