/**
 * The README, run as written, from a fresh clone: every command of every ```console block
 * (the seed's walkthrough, `--clusters`, the devcluster), typed in order into one bash
 * session, with every file a ```yaml block names (`# clusters.yaml`) written first. Each
 * command must exit 0 and print what the README shows after it (`…` matches anything,
 * runs of spaces match any spaces; background jobs' lines count, in any order). Only the
 * fixed ports are changed, to free ones (tests never take fixed ports). Afterwards
 * `git status` in the clone must be clean: every file the walkthrough writes is ignored.
 *
 * Not run here: the ```sh blocks — `npm ci` and `npm test` (the CI runs exactly those),
 * `npm start` (test/e2e/demo-exit.test.ts starts it through npm), the bench and soak
 * (test/dev/*-smoke tests) and the Stately recipe (it needs the internet).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { pickFreePort } from '../../dev/demo/ports.js';
import { BinProcess } from '../helpers/bin-process.js';

const run = promisify(execFile);
const COMMAND_TIMEOUT_MS = 90_000;
/** The README's fixed ports (proxies' agent ports, the inspector, a --clusters cluster). */
const FIXED_PORTS = ['8080', '8081', '9464', '6443', '16443'];
const PORT_PATTERN = new RegExp(`\\b(${FIXED_PORTS.join('|')})\\b`, 'g');

type Step =
  | { readonly kind: 'command'; readonly text: string; readonly expected: readonly string[] }
  | { readonly kind: 'file'; readonly name: string; readonly content: string };

/** The steps of the README, in order. */
export function readmeSteps(readme: string): Step[] {
  const steps: Step[] = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (const [, lang, body] of readme.matchAll(fence)) {
    if (lang === 'yaml') {
      const name = /^# ([\w.-]+\.ya?ml)\n/.exec(body!)?.[1];
      if (name) steps.push({ kind: 'file', name, content: body!.slice(body!.indexOf('\n') + 1) });
      continue;
    }
    if (lang !== 'console') continue;
    const lines = body!.replace(/\n$/, '').split('\n');
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i]!;
      if (!line.startsWith('$ ')) throw new Error(`README console block: output before any command: ${line}`);
      let text = line.slice(2);
      while (text.endsWith('\\') && i + 1 < lines.length) text = `${text}\n${lines[(i += 1)]!}`;
      const expected: string[] = [];
      while (i + 1 < lines.length && !lines[i + 1]!.startsWith('$ ')) expected.push(lines[(i += 1)]!);
      steps.push({ kind: 'command', text, expected });
    }
  }
  return steps;
}

/** An expected line as a pattern: `…` is anything, spaces are any spaces. */
function linePattern(expected: string): RegExp {
  const parts = expected.trim().split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+'));
  return new RegExp(`^${parts.join('.*')}$`);
}

describe('the README, command by command, from a fresh clone', { timeout: 400_000 }, () => {
  let dir: string;
  let clone: string;
  let shell: BinProcess | undefined;
  let steps: Step[];
  const ports = new Map<string, string>();
  const substitute = (text: string) => text.replace(PORT_PATTERN, (port) => ports.get(port)!);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-readme-'));
    clone = join(dir, 'tower');
    await run('git', ['clone', '--quiet', '--no-hardlinks', PACKAGE_ROOT, clone]);
    // Uncommitted edits of tracked files too, so the test checks the README being written.
    const { stdout: diff } = await run('git', ['-C', PACKAGE_ROOT, 'diff', 'HEAD', '--binary'], { maxBuffer: 64 * 1024 * 1024 });
    if (diff.trim()) {
      await writeFile(join(dir, 'local.diff'), diff);
      await run('git', ['-C', clone, 'apply', '--whitespace=nowarn', join(dir, 'local.diff')]);
    }
    // `npm ci` would install and build the same; reuse this checkout's.
    await symlink(join(PACKAGE_ROOT, 'node_modules'), join(clone, 'node_modules'));
    await symlink(join(PACKAGE_ROOT, 'dist'), join(clone, 'dist'));
    steps = readmeSteps(await readFile(join(clone, 'README.md'), 'utf8'));
  });

  /** Free ports for the fixed ones `text` names, picked just before the step that needs them. */
  const pickPortsFor = async (text: string): Promise<void> => {
    for (const [port] of text.matchAll(PORT_PATTERN)) {
      if (ports.has(port)) continue;
      let free: string;
      do free = String(await pickFreePort('127.0.0.1', 20_000, 32_000));
      while ([...ports.values()].includes(free));
      ports.set(port, free);
    }
  };

  after(async () => {
    shell?.kill('SIGKILL'); // the whole session: every job it started
    await shell?.exited;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has the walkthrough, the --clusters run and the devcluster as console blocks', () => {
    const commands = steps.filter((s) => s.kind === 'command').map((s) => s.text);
    for (const wanted of ['./bin/devcluster --name host', 'kubectl -n kubesphere-system create -f agent.yaml', './bin/agent --kubeconfig member.kubeconfig', '--clusters clusters.yaml', 'curl --cacert ca.crt --cert client.crt', 'kubectl --kubeconfig dev.kubeconfig get nodes']) {
      assert.ok(commands.some((c) => c.includes(wanted)), `a README command contains ${wanted}`);
    }
    assert.ok(steps.some((s) => s.kind === 'file' && s.name === 'clusters.yaml'));
  });

  it('every command runs as written and prints what the README shows', async () => {
    const session = new BinProcess('bash', ['--noprofile', '--norc'], {
      cwd: clone,
      detached: true, // its own process group: the after hook ends every job with it
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: dir, KUBECONFIG: '', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '', NO_COLOR: '1' },
    });
    shell = session;
    const stdin = session.child.stdin!;
    let n = 0;
    for (const step of steps) {
      await pickPortsFor(step.kind === 'file' ? step.content : [step.text, ...step.expected].join('\n'));
      if (step.kind === 'file') {
        await writeFile(join(clone, step.name), substitute(step.content));
        continue;
      }
      n += 1;
      const from = session.lines.length;
      const marker = `__readme_step_${n}__`;
      const command = substitute(step.text);
      // The marker on a line of its own even when the output did not end with a newline.
      stdin.write(`${command}\nprintf '\\n%s %s\\n' "${marker}" "$?"\n`);
      const done = await session.waitLine((l) => l.text.startsWith(marker), `step ${n}: ${command}`, COMMAND_TIMEOUT_MS);
      const context = () => `step ${n}: $ ${command}\n--- output since:\n${session.lines.slice(from).map((l) => l.text).join('\n')}`;
      assert.equal(done.text, `${marker} 0`, `non-zero exit\n${context()}`);
      // Every line the README shows, each matched by a distinct line (background jobs print too).
      const wanted = step.expected.map((e) => linePattern(substitute(e)));
      await session.waitUntil(
        () => {
          const taken = new Set<number>();
          const seen = session.lines.slice(from).map((l) => l.text.trim());
          return wanted.every((pattern) => {
            const index = seen.findIndex((text, i) => !taken.has(i) && pattern.test(text));
            if (index >= 0) taken.add(index);
            return index >= 0;
          });
        },
        `the output the README shows for step ${n}`,
        COMMAND_TIMEOUT_MS,
      ).catch((error: Error) => assert.fail(`${error.message.split('\n')[0]}\nexpected:\n${step.expected.join('\n')}\n${context()}`));
    }
    stdin.end();
    const exit = await session.waitExit('the shell to end', 30_000);
    assert.equal(exit.code, 0, session.tail());
    const secrets = session.lines.filter((l) => /BEGIN [A-Z ]*PRIVATE KEY|client-key-data/.test(l.text));
    assert.deepEqual(secrets, [], 'no key material printed');
  });

  it('leaves nothing for git to see: every file it wrote is ignored', async () => {
    const { stdout } = await run('git', ['-C', clone, 'status', '--porcelain', '--untracked-files=all']);
    const untracked = stdout.split('\n').filter((line) => line.startsWith('??'));
    assert.deepEqual(untracked, [], `files the walkthrough wrote that .gitignore misses:\n${untracked.join('\n')}`);
  });
});
