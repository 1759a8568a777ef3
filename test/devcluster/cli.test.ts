/** bin/devcluster: prints its URL, writes both kubeconfigs, serves kubectl, exits 0 on SIGTERM. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Output } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/devcluster', import.meta.url));

describe('bin/devcluster', () => {
  it('starts on a free port, writes kubeconfigs, serves kubectl and stops on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'devcluster-cli-'));
    const kc = join(dir, 'admin.kubeconfig');
    const tkc = join(dir, 'token.kubeconfig');
    const child = spawn(process.execPath, [BIN, '--port', '0', '--name', 'clitest', '--write-kubeconfig', kc, '--token-kubeconfig', tkc, '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = new Output(child);
    try {
      const text = await out.waitFor(/\n/);
      assert.match(text, /^https:\/\/127\.0\.0\.1:\d+\n$/);
      const url = text.trim();
      const admin = await readFile(kc, 'utf8');
      assert.ok(admin.includes(`server: ${url}`));
      assert.match(admin, /current-context: clitest-admin@clitest/);
      assert.match(await readFile(tkc, 'utf8'), /token: /);
      assert.equal((await stat(kc)).mode & 0o777, 0o600);

      const kubectl = spawn('kubectl', ['--kubeconfig', tkc, '--cache-dir', join(dir, 'cache'), 'get', 'nodes', '-o', 'name'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const nodes = new Output(kubectl);
      const code = await new Promise<number | null>((resolve) => kubectl.on('exit', resolve));
      assert.equal(code, 0, nodes.errText);
      assert.match(nodes.text, /node\/clitest-control-plane\n/);
      assert.doesNotMatch(out.errText, /token|PRIVATE KEY/i, 'no secrets in the logs');

      const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exit, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
