/**
 * A devcluster as the host cluster of a Kubernetes-mode proxy: `bin/devcluster` in a child
 * process (its CPU and memory apart from the bench's), the Cluster CRD installed, and a
 * small JSON client with the devcluster's bearer token. Independent of the product's own
 * Kubernetes client so the bench keeps working while that code changes.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { BenchChild } from './bench-children.js';
import { REPO_ROOT, type BenchCluster, type BenchEnv } from './bench-env.js';

const CRD_FILE = join(REPO_ROOT, 'config/crd/cluster.kubesphere.io_clusters.yaml');
export const CLUSTERS_PATH = '/apis/cluster.kubesphere.io/v1alpha1/clusters';

export interface BenchDevCluster {
  readonly child: BenchChild;
  /** Admin kubeconfig (bearer token) for the proxy's `--kubeconfig`. */
  readonly kubeconfig: string;
  json<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Create Cluster objects with their token and ports set (so none need allocating), `concurrency` at a time. */
  createClusters(clusters: readonly BenchCluster[], concurrency?: number): Promise<void>;
  /** How many Cluster objects have condition `type` True. */
  countCondition(type: string): Promise<number>;
  stop(): Promise<void>;
}

interface TokenKubeconfig {
  clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }>;
  users: Array<{ user: { token: string } }>;
}

export async function startBenchDevCluster(env: BenchEnv, name: string): Promise<BenchDevCluster> {
  const kubeconfig = join(env.dir, `${name}.kubeconfig`);
  const child = env.children.spawn(name, {
    cwd: REPO_ROOT,
    stdoutPipe: true,
    args: [join(REPO_ROOT, 'bin/devcluster'), '--name', name, '--port', '0', '--token-kubeconfig', kubeconfig, '--log-level', 'warn'],
  });
  try {
    const url = await firstLine(child, 30_000);
    const config = parse(await readFile(kubeconfig, 'utf8')) as TokenKubeconfig;
    const ca = Buffer.from(config.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString('utf8');
    const token = config.users[0]!.user.token;
    const server = new URL(url);
    const json = <T>(method: string, path: string, body?: unknown): Promise<T> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = request(
          {
            host: server.hostname,
            port: Number(server.port),
            method,
            path,
            ca,
            agent: false,
            headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if ((res.statusCode ?? 0) >= 300) return reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
              resolve(JSON.parse(text) as T);
            });
            res.on('error', reject);
          },
        );
        req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
        req.on('error', reject);
        req.end(payload);
      });
    await json('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', parse(await readFile(CRD_FILE, 'utf8')));
    return {
      child,
      kubeconfig,
      json,
      createClusters: async (clusters, concurrency = 8) => {
        let next = 0;
        const lane = async () => {
          while (next < clusters.length) {
            const c = clusters[next++]!;
            await json('POST', CLUSTERS_PATH, {
              apiVersion: 'cluster.kubesphere.io/v1alpha1',
              kind: 'Cluster',
              metadata: { name: c.name },
              spec: { joinFederation: true, connection: { type: 'proxy', token: c.token, kubernetesAPIServerPort: c.kubePort, kubesphereAPIServerPort: c.ksPort } },
            });
          }
        };
        await Promise.all(Array.from({ length: concurrency }, lane));
      },
      countCondition: async (type) => {
        const list = await json<{ items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }>('GET', CLUSTERS_PATH);
        return list.items.filter((c) => c.status?.conditions?.some((k) => k.type === type && k.status === 'True')).length;
      },
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

function firstLine(child: BenchChild, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const stdout = child.process.stdout!;
    stdout.setEncoding('utf8');
    const timer = setTimeout(() => done(new Error(`${child.name}: no URL within ${timeoutMs} ms: ${child.stderrTail().slice(-300)}`)), timeoutMs);
    const onData = (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl >= 0) done(undefined, text.slice(0, nl).trim());
    };
    const onExit = () => done(new Error(`${child.name} exited: ${child.stderrTail().slice(-300)}`));
    const done = (error?: Error, line?: string) => {
      clearTimeout(timer);
      stdout.off('data', onData);
      child.process.off('exit', onExit);
      stdout.resume(); // keep draining so the child never blocks on a full pipe
      if (error) reject(error);
      else resolve(line!);
    };
    stdout.on('data', onData);
    child.process.once('exit', onExit);
  });
}
