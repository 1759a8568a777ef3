/**
 * `--proxy-process`: the real `bin/proxy` as a child process, serving a clusters file.
 * What it holds is read from its /metrics; a stop is SIGTERM, and the child must exit 0
 * within the grace period. Its keepalive (15 s × 3), config (10 s) and handshake (30 s)
 * limits are the binary's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_TIMEOUT_MS } from '../../src/protocol/constants.js';
import { metricByLabel, metricValue, scrapeMetrics } from './soak-metrics.js';
import type { SoakCluster, SoakProxy, SoakProxyConfig } from './soak-proxy.js';
import { NODE_FLAGS } from '../../src/bin/node-flags.js';

/** Repository root (this file is dist/dev/soak/soak-proxy-process.js). */
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const STDERR_TAIL = 16 * 1024;

export async function childProxy(config: Pick<SoakProxyConfig, 'port' | 'clusters' | 'ca'>): Promise<SoakProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-soak-'));
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const clustersFile = join(dir, 'clusters.json');
  await writeFile(caCert, config.ca.certPem);
  await writeFile(caKey, config.ca.keyPem, { mode: 0o600 });
  await writeFile(clustersFile, JSON.stringify(config.clusters.map(clusterObject)), { mode: 0o600 });
  let child: ChildProcess | undefined;
  let exited: Promise<number | string> | undefined;
  let epoch = 0;
  /** The child answers /health (between a start's end and the next stop). */
  let serving = false;
  let tail = '';
  const carried: Record<string, number> = {};
  const crashes: string[] = [];
  const handshakesNow = async () => metricByLabel(await scrapeMetrics(config.port), 'tower_proxy_handshakes_total', 'result');

  return {
    mode: 'process',
    port: config.port,
    limits: { handshakeTimeoutMs: 30_000, configTimeoutMs: CONFIG_TIMEOUT_MS, keepaliveWindowMs: undefined },
    get epoch() {
      return epoch;
    },
    get up() {
      return serving;
    },
    actors: undefined,
    problems: () => crashes,
    start: async () => {
      if (child) return;
      epoch += 1;
      const proc = spawn(
        process.execPath,
        [...NODE_FLAGS, join(REPO_ROOT, 'bin/proxy'), '--ca-cert', caCert, '--ca-key', caKey, '--clusters', clustersFile, '--host', '127.0.0.1', '--port', String(config.port)],
        { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
      );
      child = proc;
      proc.stderr?.setEncoding('utf8').on('data', (text: string) => (tail = (tail + text).slice(-STDERR_TAIL)));
      exited = new Promise((resolve) =>
        proc.once('exit', (code, signal) => {
          // Not stopped by us: the proxy died on its own.
          if (child === proc) {
            child = undefined;
            serving = false;
            epoch += 1;
            crashes.push(`bin/proxy exited with ${code ?? signal} while serving: ${tail.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}`);
          }
          resolve(code ?? signal ?? 'unknown');
        }),
      );
      const deadline = Date.now() + START_TIMEOUT_MS;
      let gone = false;
      void exited.then(() => (gone = true));
      while (!(await healthy(config.port))) {
        if (gone || Date.now() > deadline) {
          proc.kill('SIGKILL');
          child = undefined;
          throw new Error(`bin/proxy did not serve /health within ${START_TIMEOUT_MS} ms: ${tail.trim().split('\n').slice(-3).join(' | ')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      serving = true;
      epoch += 1;
    },
    stop: async () => {
      const proc = child;
      if (!proc || !exited) return { sessions: 0, gateways: 0, channelsOpen: 0 };
      // Counters restart with the process: keep what this one counted.
      const counted = await handshakesNow().catch(() => ({}) as Record<string, number>);
      for (const [k, v] of Object.entries(counted)) carried[k] = (carried[k] ?? 0) + v;
      child = undefined;
      serving = false;
      epoch += 1;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      const exitCode = await exited;
      clearTimeout(timer);
      return { sessions: 0, gateways: 0, channelsOpen: 0, exitCode };
    },
    state: async () => {
      if (!child) return { sessions: 0, channelsOpen: 0, clustersConnected: 0, gatewaySessions: undefined, gateways: undefined };
      const samples = await scrapeMetrics(config.port);
      return {
        sessions: metricValue(samples, 'tower_proxy_sessions'),
        channelsOpen: metricValue(samples, 'tower_proxy_channels_open'),
        clustersConnected: metricValue(samples, 'tower_proxy_clusters_connected'),
        gatewaySessions: undefined,
        gateways: undefined,
        rssBytes: metricValue(samples, 'process_resident_memory_bytes'),
      };
    },
    handshakes: async () => {
      const now = child ? await handshakesNow() : {};
      const sum: Record<string, number> = { ...carried };
      for (const [k, v] of Object.entries(now)) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    },
    close: async () => {
      child?.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function clusterObject(c: SoakCluster) {
  return {
    apiVersion: 'cluster.kubesphere.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: c.name },
    spec: { joinFederation: true, connection: { type: 'proxy', token: c.token, kubernetesAPIServerPort: c.kubePort, kubesphereAPIServerPort: c.ksPort } },
  };
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
