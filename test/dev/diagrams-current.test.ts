import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { allMachines } from '../../src/machines/index.js';
import { syncStateDiagrams } from '../../dev/diagrams/generate-state-diagrams.js';

// Compiled to dist/test/tools/: the repository root is three levels up.
const DOCS_DIR = fileURLToPath(new URL('../../../docs/state-diagrams', import.meta.url));

test('docs/state-diagrams/ matches the machines in src/machines/', async () => {
  assert.ok(existsSync(DOCS_DIR), `${DOCS_DIR} does not exist; run: npm run diagrams`);
  const { stale, missing, extra } = await syncStateDiagrams({ machines: allMachines, outDir: DOCS_DIR, check: true });
  const problems = [
    ...stale.map((file) => `stale: ${file}`),
    ...missing.map((file) => `missing: ${file}`),
    ...extra.map((file) => `extra: ${file}`),
  ];
  assert.deepEqual(
    problems,
    [],
    `state diagrams in docs/state-diagrams/ are out of date (${problems.join(', ')}); run: npm run diagrams`,
  );
});
