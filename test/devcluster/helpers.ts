/** Test helpers: a devcluster with a kubeconfig file, and the real kubectl run against it. */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevCluster } from '../../devcluster/index.js';
import type { DevCluster, DevClusterOptions } from '../../devcluster/index.js';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Harness {
  cluster: DevCluster;
  dir: string;
  kubeconfig: string;
  /** run kubectl with this cluster's kubeconfig and a fresh cache dir; never rejects */
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string }): Promise<KubectlResult>;
  /** like kubectl() but fails the test unless it exits 0; returns stdout */
  ok(args: string[], opts?: { input?: string }): Promise<string>;
  /** start a long-running kubectl (e.g. --watch); killed by close() */
  spawnKubectl(args: string[]): Output;
  /** write a file in the temp dir and return its path */
  file(name: string, text: string): Promise<string>;
  close(): Promise<void>;
}

const KUBECTL_TIMEOUT_MS = 30_000;

export async function startHarness(options: DevClusterOptions = {}): Promise<Harness> {
  const cluster = await startDevCluster(options);
  const dir = await mkdtemp(join(tmpdir(), 'devcluster-test-'));
  const kubeconfig = await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
  const cacheDir = join(dir, 'cache');
  const children = new Set<ChildProcess>();
  const env = { ...process.env, KUBECONFIG: '', HOME: dir };
  const base = (kc: string): string[] => ['--kubeconfig', kc, '--cache-dir', cacheDir];

  const kubectl = (args: string[], opts: { input?: string; kubeconfig?: string } = {}): Promise<KubectlResult> =>
    new Promise((resolve) => {
      const child = execFile('kubectl', [...base(opts.kubeconfig ?? kubeconfig), ...args], { env, timeout: KUBECTL_TIMEOUT_MS }, (err, stdout, stderr) => {
        children.delete(child);
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      children.add(child);
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });

  return {
    cluster,
    dir,
    kubeconfig,
    kubectl,
    async ok(args, opts) {
      const r = await kubectl(args, opts);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    spawnKubectl(args) {
      const child = spawn('kubectl', [...base(kubeconfig), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.on('exit', () => children.delete(child));
      return new Output(child);
    },
    async file(name, text) {
      const p = join(dir, name);
      await writeFile(p, text);
      return p;
    },
    async close() {
      await Promise.all(
        [...children].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGKILL');
            }),
        ),
      );
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A long-running child whose stdout is collected from the start, so nothing is missed between waits. */
export class Output {
  text = '';
  errText = '';
  private readonly waiters = new Set<() => void>();
  private exited = false;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => {
      this.text += d.toString();
      for (const w of [...this.waiters]) w();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.errText += d.toString();
    });
    child.on('exit', () => {
      this.exited = true;
      for (const w of [...this.waiters]) w();
    });
  }

  /** Resolve with all output so far once `pattern` matches it. */
  waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(this.text)) done();
        else if (this.exited) done(new Error(`exited before ${String(pattern)}; stdout: ${this.text}; stderr: ${this.errText}`));
      };
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${String(pattern)}; stdout: ${this.text}; stderr: ${this.errText}`)), timeoutMs);
      const done = (e?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (e) reject(e);
        else resolve(this.text);
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** Poll `check` (bounded) until it returns true. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
`;

export const CLUSTER_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusters.cluster.kubesphere.io
spec:
  group: cluster.kubesphere.io
  scope: Cluster
  names: {plural: clusters, singular: cluster, kind: Cluster}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;
