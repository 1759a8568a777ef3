/**
 * `npm start`: the seed README's walkthrough on one machine, with embedded defaults.
 *
 * Two in-process devclusters (`host` and `member`), the Cluster CRD installed on the host
 * with the real kubectl, the real bin/proxy watching the host, Cluster `alpha` from the
 * repository's agent.yaml, the real bin/agent dialling the proxy with the token read back
 * from the Cluster (its ks-apiserver is a stand-in, ks-apiserver.ts), then `./config_alpha`
 * from the issued kubeconfig. Runs until Ctrl-C/SIGTERM, then stops everything it started.
 * Working files (kubeconfigs, CA, logs, lock) live in .tower-run/ (or `--dir`).
 *
 * Every exit path cleans up: the children run in their own process group and stop
 * themselves when we are gone (child.ts, parent-watch.ts), a lock left by a killed demo is
 * recognised as stale, and a closed output (`npm start | tee log`, then Ctrl-C) never
 * stops the shutdown.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { ManagedChild, describeExit } from './child.js';
import { Kubectl } from './kubectl.js';
import { acquireLock, isDemoProcess } from './lock.js';
import { PACKAGE_ROOT } from './paths.js';
import { pickFreePort } from './ports.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { startKsApiserver } from './ks-apiserver.js';
import { DEMO_USAGE, DemoUsageError, parseDemoOptions, type DemoOptions } from './options.js';
import { SEED_CLUSTER_FILE } from './seed-cluster.js';
import { NODE_FLAGS } from '../../src/bin/node-flags.js';

const CLUSTER = 'alpha';
const HOST_ADDRESS = '127.0.0.1';
const MEMBER_NAMESPACE = 'member-only';
const WAIT_SECONDS = 30;

// Output must never stop us: a closed pipe (`| tee`, `| head`) makes writes fail with EPIPE.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
const write = (stream: NodeJS.WriteStream, text: string): void => {
  try {
    if (!stream.destroyed) stream.write(text);
  } catch {
    // the reader is gone; carry on
  }
};

let options: DemoOptions;
try {
  const parsed = parseDemoOptions(process.argv.slice(2));
  if (!parsed) {
    write(process.stdout, DEMO_USAGE);
    process.exit(0);
  }
  options = parsed;
} catch (error) {
  write(process.stderr, `tower demo: ${error instanceof DemoUsageError ? error.message : String(error)}\n`);
  process.exit(2);
}

const root = PACKAGE_ROOT;
const runDir = options.dir ? resolve(options.dir) : join(root, '.tower-run');
const files = {
  lock: join(runDir, 'lock'),
  hostKubeconfig: join(runDir, 'host.kubeconfig'),
  memberKubeconfig: join(runDir, 'member.kubeconfig'),
  caCert: join(runDir, 'ca.crt'),
  caKey: join(runDir, 'ca.key'),
  proxyLog: join(runDir, 'proxy.log'),
  agentLog: join(runDir, 'agent.log'),
  kubectlCache: join(runDir, 'kubectl-cache'),
  configAlpha: join(options.dir ? runDir : root, `config_${CLUSTER}`),
};
/** A path as the user should type it from where they started us. */
const show = (path: string) => {
  const shown = relative(process.cwd(), path);
  return shown === '' ? '.' : shown.startsWith('..') ? path : shown;
};
const say = (line = '') => write(process.stdout, `${line}\n`);
const complain = (line: string) => write(process.stderr, `${line}\n`);
const indent = (text: string, by = '    ') => text.trimEnd().split('\n').map((l) => by + l).join('\n');

/** Everything started so far, stopped in reverse order. */
const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
let stopping = false;
let agent: ManagedChild | undefined;
let proxyPort = 0;
let ksPort = 0;
let agentGeneration = 0;
/** Set once the story has run; before that SIGUSR2 is ignored. */
let ready = false;

async function main(): Promise<void> {
  await mkdir(runDir, { recursive: true });
  const lock = acquireLock(files.lock, isDemoProcess);
  if (!lock.acquired) {
    complain(`tower demo is already running (pid ${lock.pid}); stop it with Ctrl-C in its terminal or \`kill ${lock.pid}\` first.`);
    process.exit(1);
  }
  if (lock.staleFrom !== undefined) {
    say(`[demo] removed a stale lock ${show(files.lock)}: its demo (pid ${lock.staleFrom}) is no longer running.`);
  }
  cleanups.push({ what: 'lock', run: async () => lock.release() });
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGHUP', () => void shutdown('SIGHUP', 0));
  // `npm start` runs us under `sh -c`; a SIGTERM to npm ends the shell but not us. When our
  // parent goes away (we are re-parented), stop as if told to.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && void shutdown('parent exit', 0), 1000).unref();
  const kubectl = new Kubectl({ kubeconfig: files.hostKubeconfig, cacheDir: files.kubectlCache, cwd: root });
  toggleAgentOnSignal(kubectl);

  say(`Tower demo (pid ${process.pid}): the seed README on one machine (two devclusters, the real bin/proxy, bin/agent and kubectl).`);
  say();

  // Two clusters: the host runs the proxy; the member runs the agent.
  const host = await startCluster('host', files.hostKubeconfig);
  const member = await startCluster('member', files.memberKubeconfig);
  await kubectl.ok(['create', 'namespace', MEMBER_NAMESPACE], { kubeconfig: files.memberKubeconfig });
  say(`- host cluster   ${host.url}   kubeconfig ${show(files.hostKubeconfig)}`);
  say(`- member cluster ${member.url}   kubeconfig ${show(files.memberKubeconfig)}   (nodes member-*, namespace ${MEMBER_NAMESPACE})`);

  // $ kustomize build | kubectl create -f -
  const crd = await kubectl.kustomizeCreate('config/crd');
  say(`- kubectl kustomize config/crd | kubectl create -f -   → ${crd.trim()}`);

  // The proxy CA.
  const ca = await createSelfSignedCa();
  await writeFile(files.caCert, ca.certPem, { mode: 0o644 });
  await writeFile(files.caKey, ca.keyPem, { mode: 0o600 });
  await chmod(files.caKey, 0o600);

  // $ ./bin/proxy --ca-cert … --ca-key … --host … --port … --publish-service-address … --kubeconfig …
  const proxy = await startProxy();
  say(`- bin/proxy listening on ${HOST_ADDRESS}:${proxyPort} (pid ${proxy.pid}; log ${show(files.proxyLog)})`);
  void proxy.exited.then((exit) => {
    if (stopping) return;
    complain(`\nThe proxy exited unexpectedly (${describeExit(exit)}); see ${show(files.proxyLog)}:\n${indent(proxy.tail())}`);
    void shutdown('proxy exit', 1);
  });

  // $ kubectl -n kubesphere-system create -f agent.yaml   (the repository's, as in the README)
  const created = await kubectl.ok(['-n', 'kubesphere-system', 'create', '-f', SEED_CLUSTER_FILE]);
  say(`- kubectl -n kubesphere-system create -f agent.yaml   → ${created.trim()}`);

  // The member's ks-apiserver: a stand-in, so the ks listener answers.
  const ks = await startKsApiserver(HOST_ADDRESS);
  cleanups.push({ what: 'ks-apiserver stand-in', run: () => ks.close() });
  ksPort = ks.port;

  // The proxy generates the token, ports and endpoints, then sets Initialized.
  await kubectl.ok(['wait', '--for=condition=Initialized', `cluster/${CLUSTER}`, `--timeout=${WAIT_SECONDS}s`], { timeoutMs: (WAIT_SECONDS + 5) * 1000 });
  const token = await readToken(kubectl);
  say(`- the proxy generated a token (${token.length} hex digits, not printed): kubectl --kubeconfig ${show(files.hostKubeconfig)} get cluster ${CLUSTER} -o jsonpath='{.spec.connection.token}'`);

  // $ ./bin/agent --kubeconfig … --token … --name alpha
  agent = startAgent(token);
  say(`- bin/agent --name ${CLUSTER} started (pid ${agent.pid}; log ${show(files.agentLog)})`);
  const available = await Promise.race([
    kubectl.ok(['wait', '--for=condition=AgentAvailable', `cluster/${CLUSTER}`, `--timeout=${WAIT_SECONDS}s`], { timeoutMs: (WAIT_SECONDS + 5) * 1000 }),
    agent.exited.then((exit) => {
      throw new Error(`the agent exited (${describeExit(exit)}) before connecting; see ${show(files.agentLog)}:\n${indent(agent?.tail() ?? '')}`);
    }),
  ]);
  say(`- AgentAvailable=True   → ${available.trim()}`);
  const inspectors = options.inspect ? await inspectorUrls(proxy, agent) : undefined;

  // $ kubectl get cluster alpha -o jsonpath='{.spec.connection.kubeconfig}' | base64 -d > config_alpha
  const encoded = await kubectl.ok(['get', 'cluster', CLUSTER, '-o', 'jsonpath={.spec.connection.kubeconfig}']);
  if (!encoded.trim()) throw new Error(`Cluster ${CLUSTER} is AgentAvailable but has no spec.connection.kubeconfig`);
  await writeFile(files.configAlpha, Buffer.from(encoded.trim(), 'base64'), { mode: 0o600 });
  await chmod(files.configAlpha, 0o600);
  say(`- wrote ${show(files.configAlpha)} from spec.connection.kubeconfig (client certificate kubernetes-admin, signed by ${show(files.caCert)})`);
  say();

  // $ kubectl --kubeconfig config_alpha get node
  const nodes = await kubectl.ok(['get', 'node'], { kubeconfig: files.configAlpha });
  say(`$ kubectl --kubeconfig ${show(files.configAlpha)} get node      # the MEMBER's nodes, through the proxy`);
  say(nodes.trimEnd());
  say();
  const ksEndpoint = (await kubectl.ok(['get', 'cluster', CLUSTER, '-o', 'jsonpath={.spec.connection.kubesphereAPIEndpoint}'])).trim();
  printTryThis(ksEndpoint, inspectors);
  ready = true;
}

/** The URL each child logged for its inspector page (`--debug-address`). */
async function inspectorUrls(proxy: ManagedChild, agentChild: ManagedChild): Promise<{ proxy: string; agent: string }> {
  const url = async (child: ManagedChild) => (await child.waitFor(/Inspector page at (http:\/\/\S+)/, 10_000))[1]!;
  return { proxy: await url(proxy), agent: await url(agentChild) };
}

async function startCluster(name: 'host' | 'member', kubeconfig: string): Promise<DevCluster> {
  const cluster = await startDevCluster({ name, port: 0 });
  cleanups.push({ what: `devcluster ${name}`, run: () => cluster.stop() });
  await cluster.writeKubeconfig(kubeconfig, 'cert');
  return cluster;
}

/** The real bin/proxy on a free port (another pick if someone takes it meanwhile). */
async function startProxy(): Promise<ManagedChild> {
  for (let attempt = 1; ; attempt += 1) {
    proxyPort = await pickFreePort(HOST_ADDRESS);
    const proxy = new ManagedChild({
      name: 'proxy',
      command: process.execPath,
      args: [
        ...NODE_FLAGS,
        join(root, 'bin', 'proxy'),
        '--ca-cert', files.caCert,
        '--ca-key', files.caKey,
        '--host', HOST_ADDRESS,
        '--port', String(proxyPort),
        '--publish-service-address', HOST_ADDRESS,
        '--kubeconfig', files.hostKubeconfig,
        '--log-format', 'text',
        ...(options.inspect ? ['--debug-address', `${HOST_ADDRESS}:0`] : []),
      ],
      cwd: root,
      logFile: files.proxyLog,
      tiedToParent: true,
    });
    cleanups.push({ what: 'proxy', run: () => proxy.stop() });
    try {
      await proxy.waitFor(/Listening on /, 20_000);
      return proxy;
    } catch (error) {
      await proxy.stop();
      if (attempt < 3 && /already in use/.test(proxy.output)) continue;
      throw error;
    }
  }
}

function startAgent(token: string): ManagedChild {
  agentGeneration += 1;
  const generation = agentGeneration;
  const child = new ManagedChild({
    name: 'agent',
    command: process.execPath,
    args: [
      ...NODE_FLAGS,
      join(root, 'bin', 'agent'),
      '--name', CLUSTER,
      '--token', token,
      '--proxy-server', `http://${HOST_ADDRESS}:${proxyPort}`,
      '--kubeconfig', files.memberKubeconfig,
      '--kubesphere-service', `${HOST_ADDRESS}:${ksPort}`,
      '--log-format', 'text',
      ...(options.inspect ? ['--debug-address', `${HOST_ADDRESS}:0`] : []),
    ],
    cwd: root,
    logFile: files.agentLog,
    appendLog: generation > 1,
    tiedToParent: true,
  });
  cleanups.push({ what: 'agent', run: () => child.stop() });
  void child.exited.then((exit) => {
    if (stopping || generation !== agentGeneration || agent !== child) return;
    say(`[demo] the agent exited (${describeExit(exit)}); \`kill -USR2 ${process.pid}\` starts it again.`);
  });
  return child;
}

async function readToken(kubectl: Kubectl): Promise<string> {
  const token = (await kubectl.ok(['get', 'cluster', CLUSTER, '-o', 'jsonpath={.spec.connection.token}'])).trim();
  if (!/^[0-9a-f]{64}$/.test(token)) throw new Error(`Cluster ${CLUSTER} has no generated token after Initialized`);
  return token;
}

/** SIGUSR2 toggles the agent: stop it (AgentAvailable goes False) or start a new one. */
function toggleAgentOnSignal(kubectl: Kubectl): void {
  let busy = false;
  process.on('SIGUSR2', () => {
    if (busy || stopping || !ready) return;
    busy = true;
    void (async () => {
      try {
        if (agent && !agent.exit) {
          const current = agent;
          agent = undefined;
          await current.stop();
          say('[demo] agent stopped: AgentAvailable goes False. Send SIGUSR2 again to start it.');
        } else {
          agent = startAgent(await readToken(kubectl));
          say(`[demo] agent started again (pid ${agent.pid}).`);
        }
      } catch (error) {
        say(`[demo] ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        busy = false;
      }
    })();
  });
}

function printTryThis(ksEndpoint: string, inspectors: { proxy: string; agent: string } | undefined): void {
  const host = `kubectl --kubeconfig ${show(files.hostKubeconfig)}`;
  const conditions = `'{range .status.conditions[*]}{.type}={.status}{"\\n"}{end}'`;
  const lines = [
    `Tower is running. Try these in another terminal${process.cwd() === root.replace(/\/$/, '') ? '' : ` (from ${root})`}:`,
    '',
    '  # the member cluster, through the proxy (nodes member-*, namespace member-only):',
    `  kubectl --kubeconfig ${show(files.configAlpha)} get node`,
    `  kubectl --kubeconfig ${show(files.configAlpha)} get ns`,
    '  # for comparison, the clusters directly:',
    `  kubectl --kubeconfig ${show(files.memberKubeconfig)} get node`,
    `  ${host} get node`,
    '  # the Cluster objects on the host, and alpha\'s conditions:',
    `  ${host} get clusters`,
    `  ${host} get cluster ${CLUSTER} -o jsonpath=${conditions}`,
    `  ${host} get cluster ${CLUSTER} -o jsonpath='{.spec.connection.kubernetesAPIEndpoint}'`,
    '  # the member\'s ks-apiserver (a stand-in: /kapis/version only), through the proxy\'s ks listener:',
    `  curl ${ksEndpoint}/kapis/version`,
    '  # stop the agent and watch AgentAvailable go False; the same signal starts it again:',
    `  kill -USR2 ${process.pid}`,
    `  ${host} wait --for=condition=AgentAvailable=False cluster/${CLUSTER} --timeout=30s`,
    `  kill -USR2 ${process.pid}`,
    `  ${host} wait --for=condition=AgentAvailable cluster/${CLUSTER} --timeout=30s`,
    '',
    `Logs: ${show(files.proxyLog)} and ${show(files.agentLog)}. The token is in the Cluster's spec.connection.token`,
    `(${host} get cluster ${CLUSTER} -o jsonpath='{.spec.connection.token}').`,
    ...(inspectors
      ? ['', 'Inspectors (live actors and state machines; open in a browser):', `  proxy  ${inspectors.proxy}`, `  agent  ${inspectors.agent}`]
      : ['', 'See the live state machines: npm start -- --inspect']),
    'Press Ctrl-C to stop everything.',
  ];
  for (const line of lines) say(line);
}

async function shutdown(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (code === 0) say(`\n[demo] ${reason}: stopping the agent, the proxy and the devclusters…`);
  for (const { what, run } of cleanups.reverse()) {
    try {
      await run();
    } catch (error) {
      complain(`[demo] stopping ${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (code === 0) say('[demo] stopped.');
  process.exit(code);
}

main().then(
  () => undefined,
  async (error: unknown) => {
    if (stopping) return;
    complain(`tower demo failed: ${error instanceof Error ? error.message : String(error)}`);
    if (proxyPort) complain(`(logs: ${show(files.proxyLog)}, ${show(files.agentLog)})`);
    await shutdown('failure', 1);
  },
);
