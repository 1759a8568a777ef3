/**
 * The built-in inspector in a real browser (Debian's chromium, headless, driven by
 * puppeteer-core over a pipe): the real bin/proxy (watching Cluster objects on a host
 * devcluster, so its watch events carry whole Clusters with their token and kubeconfig)
 * and bin/agent with `--debug-address`, a member devcluster, and a ks-apiserver that holds
 * a request open. On the agent's page the
 * agent session reaches `connected`; a request through the proxy's ks listener makes a
 * channel appear (state `open`, highlighted in its machine's picture), and it closes when
 * the client goes away. Every byte
 * the page received (documents, scripts, styles, each event-stream message, the final
 * DOM) is searched for the cluster token, key material and kubeconfigs: none is there.
 * Screenshots: test-output/inspector-agent.png and test-output/inspector-proxy.png.
 *
 * Without chromium the test is skipped with a message, except in CI (.ci/run installs
 * chromium), where it fails.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { Kubectl } from '../../dev/demo/kubectl.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { SEED_CLUSTER_FILE } from '../../dev/demo/seed-cluster.js';
import { pickFreePort } from '../../dev/demo/ports.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { BinProcess } from '../helpers/bin-process.js';
import { describeWithTool } from '../helpers/external-tool.js';
const CHROMIUM_CANDIDATES = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const chromium = CHROMIUM_CANDIDATES.find((path): path is string => !!path && existsSync(path));
const OUTPUT_DIR = join(PACKAGE_ROOT, 'test-output');
const WAIT_MS = 30_000;

/** A stand-in ks-apiserver whose `/hold` answers only when released. */
async function startHoldingUpstream() {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    if (req.url === '/hold') held.push(res);
    else res.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    held,
    release: () => held.splice(0).forEach((res) => res.end('released\n')),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** A GET whose answer the upstream holds; `abort()` is the client going away. */
function heldGet(port: number, path: string): { abort(): void; aborted: Promise<void> } {
  const req = request({ host: '127.0.0.1', port, path, agent: false });
  const aborted = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('close', () => resolve());
  });
  req.end();
  return { abort: () => req.destroy(), aborted };
}

/** Everything a page receives: responses' bodies, event-stream messages, requested URLs. */
async function recordTraffic(page: Page) {
  const received: string[] = [];
  const urls: string[] = [];
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  cdp.on('Network.eventSourceMessageReceived', (event) => received.push(event.data));
  page.on('request', (req) => urls.push(req.url()));
  page.on('response', (res) => {
    if (res.headers()['content-type']?.includes('text/event-stream')) return; // streamed: recorded per message above
    res.text().then(
      (text) => received.push(text),
      () => {},
    );
  });
  return { received, urls };
}

describeWithTool(
  'the inspector page in a real browser',
  !chromium && 'chromium not installed (apt-get install chromium)',
  () => {
    let dir: string;
    let host: DevCluster;
    let member: DevCluster;
    let upstream: Awaited<ReturnType<typeof startHoldingUpstream>>;
    let proxy: BinProcess;
    let agent: BinProcess;
    let browser: Browser | undefined;
    let ksPort: number;
    let secrets: string[];
    const urls = { proxy: '', agent: '' };

    before(async () => {
      assert.ok(chromium);
      dir = await mkdtemp(join(tmpdir(), 'tower-browser-'));
      [host, member, upstream] = await Promise.all([
        startDevCluster({ name: 'host' }),
        startDevCluster({ name: 'member' }),
        startHoldingUpstream(),
      ]);
      const hostKubeconfig = await host.writeKubeconfig(join(dir, 'host.kubeconfig'));
      const kubeconfig = await member.writeKubeconfig(join(dir, 'member.kubeconfig'));
      const kubectl = new Kubectl({
        kubeconfig: hostKubeconfig,
        cacheDir: join(dir, 'kubectl-cache'),
        cwd: PACKAGE_ROOT,
        env: { ...process.env, HOME: dir, KUBECONFIG: '' },
      });
      const ca = await createSelfSignedCa();
      await writeFile(join(dir, 'ca.crt'), ca.certPem);
      await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
      await kubectl.kustomizeCreate('config/crd');
      const proxyPort = await pickFreePort();

      const env = { ...process.env, KUBERNETES_SERVICE_HOST: '', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' };
      proxy = new BinProcess(
        process.execPath,
        [
          join(PACKAGE_ROOT, 'bin', 'proxy'),
          '--ca-cert',
          join(dir, 'ca.crt'),
          '--ca-key',
          join(dir, 'ca.key'),
          '--host',
          '127.0.0.1',
          '--port',
          String(proxyPort),
          '--kubeconfig',
          hostKubeconfig,
          '--publish-service-address',
          '127.0.0.1',
          '--debug-address',
          '127.0.0.1:0',
          '--v',
          '6', // every line the proxy can log, checked for secrets below
        ],
        { env },
      );
      const inspectorUrl = (line: { json?: Readonly<Record<string, unknown>> }) => String(line.json?.['url'] ?? '');
      urls.proxy = inspectorUrl(
        await proxy.waitLine((l) => String(l.json?.['msg']).startsWith('Inspector page at'), 'the proxy inspector URL'),
      );
      await proxy.waitLine(/Listening on/, 'the proxy to listen');
      // The seed's Cluster: the proxy generates its token and ports.
      await kubectl.ok(['-n', 'kubesphere-system', 'create', '-f', SEED_CLUSTER_FILE]);
      await kubectl.ok(['wait', '--for=condition=Initialized', 'cluster/alpha', '--timeout=30s'], { timeoutMs: 35_000 });
      const token = (await kubectl.ok(['get', 'cluster', 'alpha', '-o', 'jsonpath={.spec.connection.token}'])).trim();
      ksPort = Number(await kubectl.ok(['get', 'cluster', 'alpha', '-o', 'jsonpath={.spec.connection.kubesphereAPIServerPort}']));
      agent = new BinProcess(
        process.execPath,
        [
          join(PACKAGE_ROOT, 'bin', 'agent'),
          '--name',
          'alpha',
          '--token',
          token,
          '--proxy-server',
          `http://127.0.0.1:${proxyPort}`,
          '--kubeconfig',
          kubeconfig,
          '--kubesphere-service',
          `127.0.0.1:${upstream.port}`,
          '--debug-address',
          '127.0.0.1:0',
          '--v',
          '6',
        ],
        { env },
      );
      urls.agent = inspectorUrl(
        await agent.waitLine((l) => String(l.json?.['msg']).startsWith('Inspector page at'), 'the agent inspector URL'),
      );
      assert.match(urls.agent, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      await kubectl.ok(['wait', '--for=condition=AgentAvailable', 'cluster/alpha', '--timeout=30s'], { timeoutMs: 35_000 });
      // The issued kubeconfig is in the Cluster now: the proxy's watch has seen it.
      const issued = Buffer.from(
        (await kubectl.ok(['get', 'cluster', 'alpha', '-o', 'jsonpath={.spec.connection.kubeconfig}'])).trim(),
        'base64',
      ).toString();
      assert.match(issued, /client-key-data: /);

      // What must never reach the page: the token, the keys, the kubeconfigs and their parts.
      const pemBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----'));
      const dataLines = (yaml: string) =>
        yaml
          .split('\n')
          .filter((l) => /-data: /.test(l))
          .map((l) => l.split(': ')[1]!.trim().slice(0, 60));
      secrets = [
        token,
        ...pemBody(ca.keyPem),
        ...pemBody(member.adminCert.keyPem),
        ...dataLines(await readFile(kubeconfig, 'utf8')),
        ...dataLines(issued),
        'PRIVATE KEY',
        'client-key-data',
        member.adminToken,
        host.adminToken,
      ];

      browser = await puppeteer.launch({
        executablePath: chromium,
        headless: true,
        pipe: true,
        userDataDir: join(dir, 'chromium-profile'),
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      await mkdir(OUTPUT_DIR, { recursive: true });
    });

    after(async () => {
      await browser?.close();
      upstream?.release();
      await Promise.all([agent?.stop(), proxy?.stop()]);
      await Promise.all([host?.stop(), member?.stop(), upstream?.close()]);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('agent page: the session reaches connected; a request opens a channel that appears and closes', async () => {
      const page = await browser!.newPage();
      await page.setViewport({ width: 1600, height: 1000 });
      const traffic = await recordTraffic(page);
      await page.goto(urls.agent, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('#connection.up', { timeout: WAIT_MS });
      await page.waitForSelector('.actor[data-machine="agentConnection"][data-state^="session.connected"]', { timeout: WAIT_MS });
      // The agent session's picture: the connected state is highlighted.
      await page.waitForSelector('svg[data-machine="agentConnection"] g.state.active[data-path="session.connected"]', { timeout: WAIT_MS });

      // A request through the proxy's ks listener, held open by the upstream.
      const client = heldGet(ksPort, '/hold');
      const open = await page.waitForSelector('.actor[data-machine="channel"][data-status="active"][data-state="open"]', {
        timeout: WAIT_MS,
      });
      await open!.click();
      await page.waitForSelector('svg[data-machine="channel"] g.state.active[data-path="open"]', { timeout: WAIT_MS });
      const target = await page.$eval('#context', (table) => table.textContent ?? '');
      assert.match(target, new RegExp(`target"?127\\.0\\.0\\.1:${upstream.port}`), 'the channel shows its target');
      assert.equal(upstream.held.length, 1, 'the request is held upstream');

      // The client goes away: the proxy drops the upstream connection and its channel.
      // (Closing from the member's side is test/e2e/upstream-close.test.ts.)
      client.abort();
      await client.aborted;
      await page.waitForSelector('.actor[data-machine="channel"][data-status="done"][data-state="closed"]', { timeout: WAIT_MS });
      await page.waitForSelector('svg[data-machine="channel"] g.state.active[data-path="closed"]', { timeout: WAIT_MS });
      await page.waitForSelector('#events li[data-type="pipe.done"]', { timeout: WAIT_MS });
      await page.screenshot({ path: join(OUTPUT_DIR, 'inspector-agent.png'), fullPage: true });

      traffic.received.push(await page.content());
      assertNoSecrets(traffic.received, 'the agent page');
      assertSameOrigin(traffic.urls, urls.agent);
      await page.close();
    });

    it('proxy page: the agent session serving, the gateway, the channel that came and went', async () => {
      const page = await browser!.newPage();
      await page.setViewport({ width: 1600, height: 1000 });
      const traffic = await recordTraffic(page);
      await page.goto(urls.proxy, { waitUntil: 'domcontentloaded' });
      const session = await page.waitForSelector('.actor[data-machine="agentSession"][data-state="serving"]', { timeout: WAIT_MS });
      await page.waitForSelector('.actor[data-machine="clusterGateway"][data-state="listening"]', { timeout: WAIT_MS });
      await page.waitForSelector('.actor[data-machine="channel"][data-status="done"][data-state="closed"]', { timeout: WAIT_MS });
      await session!.click();
      await page.waitForSelector('svg[data-machine="agentSession"] g.state.active[data-path="serving"]', { timeout: WAIT_MS });
      await page.screenshot({ path: join(OUTPUT_DIR, 'inspector-proxy.png'), fullPage: true });
      traffic.received.push(await page.content());
      assertNoSecrets(traffic.received, 'the proxy page');
      assertSameOrigin(traffic.urls, urls.proxy);
      await page.close();
    });

    it('no secret in any log line of either process either', () => {
      assertNoSecrets([proxy.output(), agent.output()], 'the logs');
    });

    function assertNoSecrets(texts: readonly string[], where: string): void {
      const all = texts.join('\n');
      assert.ok(all.length > 1000, `${where}: something was recorded (${all.length} bytes)`);
      for (const secret of secrets) assert.ok(!all.includes(secret), `${where} received a secret: ${secret.slice(0, 12)}…`);
    }
  },
  { timeout: 180_000 },
);

function assertSameOrigin(requested: readonly string[], base: string): void {
  const origin = new URL(base).origin;
  const foreign = requested.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'));
  assert.deepEqual(foreign, [], 'the page loads nothing from elsewhere');
}
