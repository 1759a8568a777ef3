/**
 * The real executables, bin/proxy and bin/agent, as an operator runs them: help, flag and
 * file mistakes (exit 2, one line on stderr), a whole tunnel between two processes with
 * no secret in any log line, a clean SIGTERM, giving up after --max-retry, and SIGHUP
 * cutting a retry wait short.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCa, importCa, issueClientCert, type CaPem } from '../../src/pki/index.js';
import { freePort } from '../helpers/free-port.js';
import { MEMBER_TOKEN, startMemberApiserver, type MemberApiserver } from '../helpers/member-apiserver.js';
import { clusterYaml } from '../helpers/tunnel-fixture.js';

/** The repository root (this file runs from dist/test/e2e/). */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PROXY = join(ROOT, 'bin', 'proxy');
const AGENT = join(ROOT, 'bin', 'agent');

const CLUSTER = 'alpha';
const TOKEN = 'cli-cluster-token-5e1f0c2a9b7d';

/** A process under test: every line of stdout and stderr, in order, and its exit. */
interface Proc {
  readonly child: ChildProcess;
  readonly lines: Array<{ stream: 'stdout' | 'stderr'; text: string }>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line (seen or to come) that satisfies `match`. */
  waitLine(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit, or kills the process and rejects after `timeoutMs`. */
  waitExit(what: string, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  stderrLines(): string[];
}

/** One output line, with its pino JSON when it is a log line. */
interface LogLine {
  readonly text: string;
  readonly json?: { msg?: string; time?: number; [key: string]: unknown };
}

const running = new Set<Proc>();

function start(bin: string, args: string[]): Proc {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBERNETES_SERVICE_HOST: '' } });
  const lines: Proc['lines'] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const parsed: LogLine[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream]! }).on('line', (text) => {
      lines.push({ stream, text });
      let json: LogLine['json'];
      try {
        const value: unknown = JSON.parse(text);
        if (value && typeof value === 'object') json = value as LogLine['json'];
      } catch {
        // not a JSON log line
      }
      const line: LogLine = json ? { text, json } : { text };
      parsed.push(line);
      events.emit('line', line);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' comes after the exit and after both pipes ended: every line has been read.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const proc: Proc = {
    child,
    lines,
    exited,
    waitLine: (match, what, timeoutMs = 15_000) => {
      const seen = parsed.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const onLine = (line: LogLine) => {
          if (!match(line)) return;
          cleanup();
          resolve(line);
        };
        const onExit = () => {
          cleanup();
          reject(new Error(`${bin} exited while waiting for ${what}:\n${proc.output()}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${proc.output()}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('line', onLine);
          child.off('close', onExit);
        };
        events.on('line', onLine);
        child.once('close', onExit);
      });
    },
    waitExit: async (what, timeoutMs = 15_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${proc.output()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    output: () => lines.map((l) => `${l.stream}: ${l.text}`).join('\n'),
    stderrLines: () => lines.filter((l) => l.stream === 'stderr' && l.text.trim() !== '').map((l) => l.text),
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Run to completion (bounded). */
async function run(bin: string, args: string[], timeoutMs = 15_000) {
  const proc = start(bin, args);
  const exit = await proc.waitExit(`${bin} ${args.join(' ')} to exit`, timeoutMs);
  return { ...exit, proc };
}

/** A mistake at start: exit 2 and exactly one non-empty line on stderr, nothing on stdout. */
async function usageError(bin: string, args: string[]): Promise<string> {
  const { code, proc } = await run(bin, args);
  assert.equal(code, 2, `exit code of ${bin} ${args.join(' ')}:\n${proc.output()}`);
  const stderr = proc.stderrLines();
  assert.equal(stderr.length, 1, `expected one line on stderr:\n${proc.output()}`);
  assert.equal(proc.lines.filter((l) => l.stream === 'stdout' && l.text.trim()).length, 0, 'nothing on stdout');
  return stderr[0]!;
}

const msg = (text: string | RegExp) => (line: LogLine) =>
  typeof line.json?.msg === 'string' && (typeof text === 'string' ? line.json.msg.startsWith(text) : text.test(line.json.msg));

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

function memberKubeconfig(member: { port: number; ca: CaPem }): string {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: member, cluster: {server: "https://127.0.0.1:${member.port}", certificate-authority-data: ${b64(member.ca.certPem)}}}]`,
    `users: [{name: agent, user: {token: ${MEMBER_TOKEN}}}]`,
    'contexts: [{name: member, context: {cluster: member, user: agent}}]',
    'current-context: member',
    '',
  ].join('\n');
}

describe('bin/proxy and bin/agent', { timeout: 60_000 }, () => {
  let dir: string;
  let ca: CaPem;
  let caCert: string;
  let caKey: string;
  let member: MemberApiserver;
  let kubeconfig: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-cli-'));
    ca = await createSelfSignedCa({ commonName: 'tower-cli-test-ca' });
    caCert = join(dir, 'ca.crt');
    caKey = join(dir, 'ca.key');
    await writeFile(caCert, ca.certPem);
    await writeFile(caKey, ca.keyPem, { mode: 0o600 });
    member = await startMemberApiserver('token');
    kubeconfig = join(dir, 'member.kubeconfig');
    await writeFile(kubeconfig, memberKubeconfig(member));
  });

  after(async () => {
    for (const proc of running) proc.child.kill('SIGKILL');
    await Promise.all([...running].map((p) => p.exited));
    await member?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('--help', { concurrency: true }, () => {
    const cases: Array<[string, string, string[]]> = [
      ['proxy', PROXY, ['--ca-cert', '--ca-key', '--host', '--port', '--publish-service-address', '--kubeconfig', '--leader-elect', '--v', '--clusters', '--inspect']],
      ['agent', AGENT, ['--name', '--token', '--proxy-server', '--kubeconfig', '--kubernetes-service', '--kubesphere-service', '--keepalive', '--max-retry', '--max-retry-interval', '--v']],
    ];
    for (const [name, bin, flags] of cases) {
      it(`${name} --help lists every flag and exits 0`, async () => {
        const { code, proc } = await run(bin, ['--help']);
        assert.equal(code, 0);
        const text = proc.lines.map((l) => l.text).join('\n');
        for (const flag of flags) assert.match(text, new RegExp(`^\\s+${flag}[\\s=]`, 'm'), `${name} --help does not describe ${flag}`);
      });
    }
  });

  describe('mistakes: exit 2 with one line', { concurrency: true }, () => {
    for (const [name, bin] of [['proxy', PROXY], ['agent', AGENT]] as const) {
      it(`${name}: an unknown flag`, async () => {
        const line = await usageError(bin, ['--no-such-flag', 'x']);
        assert.match(line, /--no-such-flag/);
      });
    }

    it('proxy: --port 80 names the allowed range', async () => {
      const line = await usageError(PROXY, ['--port', '80', '--ca-cert', caCert, '--ca-key', caKey]);
      assert.match(line, /1024-49151/);
    });

    it('proxy: an unreadable --ca-cert is named', async () => {
      const missing = join(dir, 'missing-ca.crt');
      const line = await usageError(PROXY, ['--ca-cert', missing, '--ca-key', caKey, '--clusters', join(dir, 'x.yaml'), '--port', '40000']);
      assert.ok(line.includes(missing), line);
    });

    it('proxy: an unreadable --clusters is named', async () => {
      const missing = join(dir, 'missing-clusters.yaml');
      const line = await usageError(PROXY, ['--ca-cert', caCert, '--ca-key', caKey, '--clusters', missing, '--host', '127.0.0.1', '--port', String(await freePort())]);
      assert.ok(line.includes(missing), line);
    });

    it('proxy: an unreadable --kubeconfig is named', async () => {
      const missing = join(dir, 'missing-host.kubeconfig');
      const line = await usageError(PROXY, ['--ca-cert', caCert, '--ca-key', caKey, '--kubeconfig', missing, '--host', '127.0.0.1', '--port', String(await freePort())]);
      assert.ok(line.includes(missing), line);
    });

    it('agent: an unreadable --kubeconfig is named', async () => {
      const missing = join(dir, 'missing-member.kubeconfig');
      const line = await usageError(AGENT, ['--name', CLUSTER, '--token', TOKEN, '--kubeconfig', missing]);
      assert.ok(line.includes(missing), line);
      assert.ok(!line.includes(TOKEN), 'the token is printed');
    });

    for (const value of ['5x', '-3s', 'soon']) {
      it(`agent: --keepalive ${value} is not a duration`, async () => {
        const line = await usageError(AGENT, ['--name', CLUSTER, '--token', TOKEN, '--kubeconfig', kubeconfig, `--keepalive=${value}`]);
        assert.match(line, /--keepalive/);
      });
    }
  });

  it('a real tunnel between the two processes; no secret in any log line; SIGTERM stops both cleanly', async () => {
    const port = await freePort();
    const kubePort = await freePort();
    const ksPort = await freePort();
    const clusters = join(dir, 'clusters.yaml');
    await writeFile(clusters, clusterYaml(CLUSTER, TOKEN, kubePort, ksPort));

    // --v 6: trace level, so the check below covers every line the code can log.
    const proxy = start(PROXY, ['--ca-cert', caCert, '--ca-key', caKey, '--host', '127.0.0.1', '--port', String(port), '--clusters', clusters, '--v', '6']);
    const listening = await proxy.waitLine(msg(`Listening on 127.0.0.1:${port}`), 'the proxy to listen');
    assert.equal(proxy.lines.find((l) => l.text === listening.text)?.stream, 'stderr', 'logs go to stderr');

    const agent = start(AGENT, [
      '--name', CLUSTER,
      '--token', TOKEN,
      '--proxy-server', `http://127.0.0.1:${port}`,
      '--kubeconfig', kubeconfig,
      '--kubesphere-service', '127.0.0.1:9',
      '--v', '6',
    ]);
    await agent.waitLine(msg('Connected'), 'the agent to connect');
    await proxy.waitLine(msg('Cluster listeners open'), 'the cluster listeners to open');

    const client = await issueClientCert(await importCa(ca), { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: kubePort, path: '/version', agent: false, ca: ca.certPem, cert: client.certPem, key: client.keyPem, timeout: 10_000 },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).gitVersion, 'v1.32.0-member');
    assert.equal(member.seen.at(-1)?.authorization, `Bearer ${MEMBER_TOKEN}`);

    proxy.child.kill('SIGTERM');
    agent.child.kill('SIGTERM');
    const [proxyExit, agentExit] = await Promise.all([proxy.waitExit('the proxy to stop'), agent.waitExit('the agent to stop')]);
    assert.deepEqual(proxyExit, { code: 0, signal: null }, proxy.output());
    assert.deepEqual(agentExit, { code: 0, signal: null }, agent.output());

    for (const [name, proc] of [['proxy', proxy], ['agent', agent]] as const) {
      for (const line of proc.lines) {
        assert.ok(!line.text.includes(TOKEN), `${name} logged the cluster token: ${line.text}`);
        assert.ok(!line.text.includes(MEMBER_TOKEN), `${name} logged the member bearer token: ${line.text}`);
      }
    }
    for (const p of [port, kubePort, ksPort]) assert.ok(await refused(p), `port ${p} is still open`);
  });

  it('agent --max-retry 2 against a closed port gives up after two attempts, exit 1', async () => {
    const closed = await freePort();
    const agent = start(AGENT, ['--name', CLUSTER, '--token', TOKEN, '--proxy-server', `http://127.0.0.1:${closed}`, '--kubeconfig', kubeconfig, '--max-retry', '2']);
    const exit = await agent.waitExit('the agent to give up');
    assert.equal(exit.code, 1, agent.output());
    const logged = agent.lines.map((l) => l.text);
    const retries = logged.filter((text) => text.includes('Connection error; retrying'));
    assert.equal(retries.length, 1, `one retry between the two attempts:\n${agent.output()}`);
    const giveUp = await agent.waitLine(msg(/^Giving up/), 'the giving-up line');
    assert.equal(giveUp.json?.maxRetry, 2);
    assert.match(String(giveUp.json?.reason), /ECONNREFUSED/);
    assert.ok(logged.indexOf(retries[0]!) < logged.indexOf(giveUp.text), 'gives up after the retry');
    assert.ok(!agent.output().includes(TOKEN), 'the token is logged');
  });

  it('agent: SIGHUP during a backoff wait makes the next attempt at once', async (ctx) => {
    const closed = await freePort();
    const agent = start(AGENT, ['--name', CLUSTER, '--token', TOKEN, '--proxy-server', `http://127.0.0.1:${closed}`, '--kubeconfig', kubeconfig, '--max-retry-interval', '1h']);
    try {
      const retryLines: LogLine[] = [];
      const nextRetry = (what: string) => agent.waitLine((l) => msg('Connection error; retrying')(l) && !retryLines.includes(l), what);
      // Three waits cut short in a row: each next attempt (and its log line) comes before
      // the wait the previous line announced would have ended. The line is logged on
      // entering the wait, so the signal always lands in it.
      retryLines.push(await nextRetry('the first failed attempt'));
      for (let i = 1; i <= 3; i += 1) {
        agent.child.kill('SIGHUP');
        retryLines.push(await nextRetry(`the attempt after SIGHUP ${i}`));
      }
      for (let i = 0; i + 1 < retryLines.length; i += 1) {
        const current = retryLines[i]!.json!;
        const next = retryLines[i + 1]!.json!;
        assert.equal(next.attempt, i + 2, 'attempts counted in order (a number)');
        const waited = Number(next.time) - Number(current.time);
        const announced = Number(current.retryInMs);
        assert.ok(announced >= 500, `backoff starts at 1 s (half of it at least): ${announced}`);
        assert.ok(waited < announced, `attempt ${i + 2} came ${waited} ms after the wait of ${announced} ms began: SIGHUP did not cut it short`);
        ctx.diagnostic(`wait ${i + 1}: ${announced} ms announced, next attempt after ${waited} ms`);
      }
      assert.equal(agent.child.exitCode, null, 'SIGHUP must not end the agent');
    } finally {
      agent.child.kill('SIGTERM');
      const exit = await agent.waitExit('the agent to stop');
      assert.equal(exit.code, 0, agent.output());
    }
  });
});
