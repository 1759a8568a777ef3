/**
 * One voice for bin/proxy, bin/agent and bin/devcluster: each opens its help with its own
 * description and usage, answers a mistake with one plain line and exit 2, and takes
 * `--log-format text|json`. The agent's messages point the way (missing scheme, port out of
 * range, not a kubeconfig, a name that does not resolve), its log fields are typed, and it
 * answers /livez and /readyz on its metrics port.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { BinProcess, runToEnd } from '../helpers/bin-process.js';
import { freePort } from '../helpers/free-port.js';
import { clusterYaml } from '../helpers/tunnel-fixture.js';

const BINS = {
  proxy: join(PACKAGE_ROOT, 'bin', 'proxy'),
  agent: join(PACKAGE_ROOT, 'bin', 'agent'),
  devcluster: join(PACKAGE_ROOT, 'bin', 'devcluster'),
} as const;
const TOKEN = 'cli-voice-token-1c9e7a6b3d2f4e5a';
const ENV = { ...process.env, KUBERNETES_SERVICE_HOST: '', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' };

const running = new Set<BinProcess>();
function start(bin: keyof typeof BINS, args: string[]): BinProcess {
  const proc = new BinProcess(process.execPath, [BINS[bin], ...args], { env: ENV });
  running.add(proc);
  return proc;
}

/** exit 2, one non-empty line on stderr starting with the program's name, nothing on stdout. */
async function mistake(bin: keyof typeof BINS, args: string[]): Promise<string> {
  const proc = await runToEnd(process.execPath, [BINS[bin], ...args], { env: ENV }, 60_000);
  assert.equal(proc.exitCode, 2, `${bin} ${args.join(' ')}:\n${proc.output()}`);
  const lines = proc.lines.filter((l) => l.text.trim() !== '');
  assert.equal(lines.length, 1, `one line:\n${proc.output()}`);
  assert.equal(lines[0]!.stream, 'stderr');
  assert.ok(lines[0]!.text.startsWith(`${bin}: `), lines[0]!.text);
  assert.doesNotMatch(lines[0]!.text, /\bat .*\.js:\d+|"level"/, 'no stack trace, no JSON');
  return lines[0]!.text;
}

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from :${port}${path}`)));
    req.on('error', reject);
    req.end();
  });
}

describe('one voice for every CLI', { timeout: 120_000 }, () => {
  let dir: string;
  let member: DevCluster;
  let kubeconfig: string;
  let caCert: string;
  let caKey: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tower-cli-voice-'));
    member = await startDevCluster({ name: 'member' });
    kubeconfig = await member.writeKubeconfig(join(dir, 'member.kubeconfig'));
    const ca = await createSelfSignedCa();
    caCert = join(dir, 'ca.crt');
    caKey = join(dir, 'ca.key');
    await writeFile(caCert, ca.certPem);
    await writeFile(caKey, ca.keyPem, { mode: 0o600 });
  });

  after(async () => {
    await Promise.all([...running].map((p) => p.stop(2000)));
    await member?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('--help', { concurrency: true }, () => {
    for (const [bin, description] of [
      ['proxy', 'tower-proxy: the host-cluster side'],
      ['agent', 'tower-agent: the member-cluster side'],
      ['devcluster', 'tower-devcluster: an in-memory Kubernetes API'],
    ] as const) {
      it(`${bin} opens with its own description and usage line`, async () => {
        const proc = await runToEnd(process.execPath, [BINS[bin], '--help'], { env: ENV }, 60_000);
        assert.equal(proc.exitCode, 0);
        const text = proc.lines
          .map((l) => l.text)
          .filter((l) => l.trim())
          .map((l) => l.trim());
        assert.ok(text[0]!.startsWith(description), text[0]);
        assert.equal(text[1], 'Usage');
        assert.ok(text[2]!.startsWith(`$ tower-${bin} `), text[2]);
        assert.ok(!text.join('\n').includes('wire-compatible successor'), 'not the package description');
        assert.match(text.join('\n'), /--log-format json\|text/);
      });
    }

    it("the proxy's usage shows both modes: Kubernetes and --clusters", async () => {
      const proc = await runToEnd(process.execPath, [BINS.proxy, '--help'], { env: ENV }, 60_000);
      const usage = proc.lines.map((l) => l.text.trim()).filter((l) => l.startsWith('$ tower-proxy'));
      assert.equal(usage.length, 2, usage.join('\n'));
      assert.match(usage[0]!, /--kubeconfig FILE/);
      assert.match(usage[1]!, /--clusters clusters\.yaml/);
    });
  });

  // Two at a time: each is a whole node process loading its modules; more at once only
  // makes every one of them slow on a busy machine.
  describe('mistakes: one plain line, exit 2', { concurrency: 2 }, () => {
    const agentBase = () => ['--name', 'alpha', '--token', TOKEN, '--kubeconfig', kubeconfig];
    const cases: Array<[keyof typeof BINS, () => string[], RegExp]> = [
      ['devcluster', () => ['--bogus'], /unknown flag --bogus/],
      ['devcluster', () => ['--port', '70000'], /--port 70000: must be a port number in 0-65535/],
      ['devcluster', () => ['--history-size', 'lots'], /--history-size lots: must be a positive integer/],
      ['devcluster', () => ['--log-format', 'xml'], /--log-format xml: must be json or text/],
      ['proxy', () => ['--log-format', 'xml', '--ca-cert', caCert, '--ca-key', caKey], /--log-format xml: must be json or text/],
      [
        'proxy',
        () => ['--ca-cert', caCert, '--ca-key', caKey, '--clusters', 'x.yaml', '--debug-address', 'localhost'],
        /--debug-address localhost: must be HOST:PORT/,
      ],
      [
        'proxy',
        () => ['--ca-cert', caCert, '--ca-key', caKey, '--clusters', 'x.yaml', '--port', '40123', '--debug-address', '127.0.0.1:40123'],
        /must not be the agent port/,
      ],
      [
        'agent',
        () => [...agentBase(), '--proxy-server', '127.0.0.1:8080'],
        /--proxy-server 127\.0\.0\.1:8080: missing scheme, use http:\/\/127\.0\.0\.1:8080/,
      ],
      ['agent', () => [...agentBase(), '--proxy-server', 'http://127.0.0.1:80800'], /port 80800 is out of range 1-65535/],
      ['agent', () => [...agentBase(), '--metrics-port', '65536'], /--metrics-port 65536: port out of range 0-65535/],
      ['agent', () => [...agentBase(), '--debug-address', '127.0.0.1:99999'], /port 99999 is out of range 0-65535/],
      ['agent', () => [...agentBase(), '--log-format', 'yaml'], /--log-format yaml: must be json or text/],
      [
        'agent',
        () => ['--name', 'alpha', '--token', TOKEN, '--kubeconfig', caCert],
        /is not a kubeconfig/,
      ],
    ];
    for (const [bin, args, expected] of cases) {
      it(`${bin}: ${expected.source.replace(/\\/g, '').slice(0, 70)}`, async () => {
        const line = await mistake(bin, args());
        assert.match(line, expected);
        assert.ok(!line.includes(TOKEN), 'no token in the message');
      });
    }
  });

  it('every bin takes --log-format text: human-readable lines, no JSON', async () => {
    const dc = start('devcluster', ['--log-format', 'text']);
    await dc.waitLine(/INFO \(devcluster\): devcluster listening/, 'a text log line', 60_000);
    assert.ok(!dc.lines.some((l) => l.json), 'no JSON line');
    assert.equal((await dc.stop()).code, 0);
  });

  it('agent: typed log fields, /livez and /readyz, and "cannot resolve HOST" at the default level', async () => {
    const [proxyPort, kubePort, ksPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const clusters = join(dir, 'clusters.yaml');
    await writeFile(clusters, clusterYaml('alpha', TOKEN, kubePort, ksPort));
    // The agent first, with no proxy yet: it retries, alive but not ready.
    const agent = start('agent', [
      '--name',
      'alpha',
      '--token',
      TOKEN,
      '--kubeconfig',
      kubeconfig,
      '--proxy-server',
      `http://127.0.0.1:${proxyPort}`,
      '--kubesphere-service',
      'no-such-host.invalid:80',
      '--max-retry-interval',
      '1s',
      '--metrics-port',
      String(metricsPort),
      '--metrics-host',
      '127.0.0.1',
      '--v',
      '4',
    ]);
    const retry = await agent.waitLine((l) => l.json?.['msg'] === 'Connection error; retrying', 'a retry line');
    assert.equal(typeof retry.json!['attempt'], 'number', `attempt is a number: ${retry.text}`);
    const stateLine = await agent.waitLine((l) => l.json?.['msg'] === 'Agent state', 'an Agent state line');
    assert.equal(typeof stateLine.json!['state'], 'object', `state is an object: ${stateLine.text}`);
    assert.equal(await httpStatus(metricsPort, '/livez'), 200);
    assert.equal(await httpStatus(metricsPort, '/readyz'), 503);

    const proxy = start('proxy', [
      '--ca-cert',
      caCert,
      '--ca-key',
      caKey,
      '--host',
      '127.0.0.1',
      '--port',
      String(proxyPort),
      '--clusters',
      clusters,
    ]);
    await agent.waitLine((l) => l.json?.['msg'] === 'Connected', 'the agent to connect', 30_000);
    await proxy.waitLine(/Cluster listeners open/, 'the cluster listeners');
    assert.equal(await httpStatus(metricsPort, '/readyz'), 200);
    assert.equal(await httpStatus(metricsPort, '/livez'), 200);

    // The ks listener's target does not resolve: 502 to the client, one clear line from the agent.
    assert.equal(await httpStatus(ksPort, '/kapis/version'), 502);
    const unresolved = await agent.waitLine((l) => l.json?.['reason'] === 'cannot resolve no-such-host.invalid', 'cannot resolve');
    assert.equal(unresolved.json!['msg'], 'Cannot reach a target in the member cluster');
    assert.ok(Number(unresolved.json!['level']) >= 30, 'logged at info or above: shown at the default --v 0');

    await proxy.stop();
    await agent.waitLine((l) => l.json?.['msg'] === 'Connection error; retrying' && l !== retry, 'a retry after the proxy left', 30_000);
    assert.equal(await httpStatus(metricsPort, '/readyz'), 503, 'not ready once the proxy is gone');
    assert.equal((await agent.stop()).code, 0);
    for (const proc of [agent, proxy]) assert.ok(!proc.output().includes(TOKEN), 'no token in any line');
  });
});
