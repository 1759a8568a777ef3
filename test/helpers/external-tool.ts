/**
 * Suites that need a tool npm does not install (go and its libraries, openssl, …). Where
 * the tool is missing they are skipped, saying why; in CI (`CI` set, as GitHub Actions and
 * .ci/run do) a missing tool fails the run instead, so a green CI means every test ran.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

export function inCi(): boolean {
  const value = process.env.CI ?? '';
  return value !== '' && value !== '0' && value !== 'false';
}

/**
 * `describe(title, fn)` for a suite that needs a tool; `missing` says why it cannot run
 * here and how to fix that (undefined: it can run). Without the tool the suite holds one
 * test in place of its own, skipped or (in CI) failed, so the summary counts it either way
 * (a skipped `describe` counts nothing).
 */
export function describeWithTool(
  title: string,
  missing: string | false | undefined,
  fn: () => void,
  options: { readonly timeout?: number; readonly concurrency?: number } = {},
): void {
  if (!missing) return void describe(title, options, fn);
  const name = 'has the tools it needs';
  describe(title, () => {
    if (inCi()) it(name, () => assert.fail(`${missing} (CI must run every test: install it in .ci/run)`));
    else it(name, { skip: missing }, () => {});
  });
}
