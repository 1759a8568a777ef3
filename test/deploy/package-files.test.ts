/**
 * What `npm publish` would ship (`files` in package.json): the three bins, the compiled
 * product and devcluster, and the ssh2 patch the install applies — nothing of dev/, test/
 * or the TypeScript sources — and every module the bins can reach is in it: each relative
 * import of a shipped file names another shipped file, and each bare import is a dependency
 * (not a devDependency) in package.json.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import ts from 'typescript';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';

const run = promisify(execFile);

/** The modules a compiled file imports (static and dynamic), as TypeScript's scanner reads them. */
function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

describe('the published package', () => {
  let files: Set<string>;
  let pkg: { bin: Record<string, string>; dependencies: Record<string, string> };

  before(async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PACKAGE_ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [report] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    files = new Set(report!.files.map((f) => f.path));
    pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8'));
  });

  it('holds the bins, the compiled product and devcluster, and the ssh2 patch; no tooling, tests or sources', () => {
    for (const bin of Object.values(pkg.bin)) assert.ok(files.has(bin), `bin ${bin} is shipped`);
    assert.ok(files.has('dist/src/bin/proxy.js') && files.has('dist/src/bin/agent.js') && files.has('dist/devcluster/main.js'));
    assert.ok([...files].some((f) => f.startsWith('patches/ssh2+')), 'the ssh2 patch (postinstall applies it)');
    const stray = [...files].filter((f) => /^(dist\/(dev|test)\/|src\/|dev\/|test\/|devcluster\/)/.test(f) || f.endsWith('.ts') || f.endsWith('.map'));
    assert.deepEqual(stray, []);
  });

  it('every import of a shipped module resolves inside the package or to a runtime dependency', async () => {
    const dependencies = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const missing: string[] = [];
    for (const file of files) {
      if (!file.endsWith('.js') && !file.startsWith('bin/')) continue;
      const text = await readFile(join(PACKAGE_ROOT, file), 'utf8');
      for (const specifier of importsOf(text)) {
        if (specifier.startsWith('.')) {
          const target = normalize(join(dirname(file), specifier));
          if (!files.has(target)) missing.push(`${file} → ${specifier} (not shipped)`);
          continue;
        }
        const bare = specifier.replace(/^node:/, '');
        const name = bare.startsWith('@') ? bare.split('/').slice(0, 2).join('/') : bare.split('/')[0]!;
        if (!builtins.has(bare) && !builtins.has(name) && !dependencies.has(name)) missing.push(`${file} → ${specifier} (not a dependency)`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
