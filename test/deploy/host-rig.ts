/**
 * A host cluster (devcluster, RBAC enforced) with the rendered host manifests applied as
 * a user applies them, and the proxy run as its Deployment would run it: in a pod of its
 * own, with the Deployment's command, args, service account and CA Secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { Kubectl } from '../../dev/demo/kubectl.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { startDevCluster, type AuditRecord, type DevCluster } from '../../devcluster/index.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { find, render, toYaml, type Manifest } from './manifests.js';
import { PodNetwork, type Route } from './pod/pod-network.js';
import { KUBERNETES_SERVICE, planContainer, runOnHost, type PodSpec, type RunningContainer } from './pod/run-container.js';
import { runcCommand, runInRunc, type ImageBundle } from './pod/runc.js';
import { flagsOf, knownFlagsOnly } from './contract.js';

/** The image's entrypoints, as this checkout's executables. */
export const ENTRYPOINTS = {
  'tower-proxy': [process.execPath, join(PACKAGE_ROOT, 'bin', 'proxy')],
  'tower-agent': [process.execPath, join(PACKAGE_ROOT, 'bin', 'agent')],
};

export interface PodRun {
  readonly pod: PodNetwork;
  readonly container: RunningContainer;
  /** Flags of the manifest the binary does not have yet (left out, see contract.ts). */
  readonly dropped: readonly string[];
}

/** A cluster for the test, its admin kubectl and client, and waits on its audit record. */
export class ClusterRig {
  readonly kubectl: Kubectl;
  readonly admin: KubeClient;
  readonly #pods: PodRun[] = [];
  readonly #waits = new Set<() => void>();
  readonly #cleanups: Array<() => Promise<void>> = [];

  protected constructor(
    readonly cluster: DevCluster,
    readonly dir: string,
    kubeconfig: string,
    /** Remove `dir` on close (it was made for this rig). */
    private readonly ownsDir: boolean,
  ) {
    this.kubectl = new Kubectl({ kubeconfig, cacheDir: join(dir, 'kubectl-cache'), env: { ...process.env, KUBECONFIG: '', HOME: dir }, timeoutMs: 30_000 });
    this.admin = KubeClient.fromString(cluster.adminKubeconfig);
  }

  /** A new cluster; its files go to `dir` (a new temporary directory if not given). */
  static async start(name: string, dir?: string): Promise<ClusterRig> {
    const where = dir ?? (await mkdtemp(join(tmpdir(), `tower-deploy-${name}-`)));
    const cluster = await startDevCluster({ name });
    return new ClusterRig(cluster, where, await cluster.writeKubeconfig(join(where, `${name}.kubeconfig`)), dir === undefined);
  }

  /** `kubectl apply --server-side -f -` of these objects. */
  apply(objects: readonly unknown[]): Promise<string> {
    return this.kubectl.ok(['apply', '--server-side', '-f', '-'], { input: toYaml(objects) });
  }

  /** The route a pod uses to reach this cluster's apiserver (the `kubernetes` Service). */
  apiserverRoute(): Route {
    return { ...KUBERNETES_SERVICE, connect: () => createConnection({ host: '127.0.0.1', port: this.cluster.port }) };
  }

  /**
   * Run the first container of `deployment` in a new pod with these Service routes: from
   * this checkout (bin/`bin`), or from the built `image` with runc.
   */
  async runPod(deployment: Manifest, routes: readonly Route[], bin: 'proxy' | 'agent', image?: ImageBundle): Promise<PodRun> {
    const name = `${deployment.metadata.name}-${randomBytes(4).toString('hex')}`;
    const spec = (deployment['spec'] as { template: { spec: PodSpec } }).template.spec;
    const pod = await PodNetwork.start(name, this.dir, [this.apiserverRoute(), ...routes]);
    const known = await flagsOf(bin);
    let dropped: string[] = [];
    try {
      const plan = await planContainer({
        podName: name,
        namespace: deployment.metadata.namespace ?? 'default',
        spec,
        api: this.admin,
        dir: this.dir,
        path: image?.path ?? process.env['PATH'] ?? '/usr/bin:/bin',
        adjustArgs: (args) => {
          const r = knownFlagsOnly(args, known);
          dropped = r.dropped;
          return r.args;
        },
      });
      let container: RunningContainer;
      if (image) {
        const runc = await runInRunc(plan, pod, image, this.dir);
        this.#cleanups.push(() => runcCommand(['--root', runc.stateDir, 'delete', '--force', runc.id]).then(() => undefined, () => undefined));
        container = runc;
      } else container = runOnHost(plan, pod, ENTRYPOINTS);
      const run = { pod, container, dropped };
      this.#pods.push(run);
      return run;
    } catch (error) {
      await pod.stop();
      throw error;
    }
  }

  /** The first audit record matching `match` (from now or earlier), within `timeoutMs`. */
  record(match: (r: AuditRecord) => boolean, what: string, timeoutMs = 20_000): Promise<AuditRecord> {
    const seen = this.cluster.audit.records().find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, r?: AuditRecord) => {
        clearTimeout(timer);
        off();
        this.#waits.delete(cancel);
        if (r) resolve(r);
        else reject(error);
      };
      const cancel = () => finish(new Error(`closed while waiting for ${what}`));
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const off = this.cluster.audit.subscribe((r) => {
        if (match(r)) finish(undefined, r);
      });
      this.#waits.add(cancel);
    });
  }

  /** Stop the pods (SIGTERM, SIGKILL after `graceMs`), the cluster, and remove the files. */
  /**
   * Until `predicate` holds for object `name` of the collection at `path` (undefined once it
   * is gone): a list, then a watch — no polling, no kubectl left running if the rig closes.
   */
  async until(path: string, name: string, predicate: (object: Record<string, unknown> | undefined) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const list = await this.admin.json<{ metadata: { resourceVersion: string }; items: Array<{ metadata: { name: string } }> }>({ method: 'GET', path });
    if (predicate(list.items.find((o) => o.metadata.name === name))) return;
    const query = new URLSearchParams({ watch: 'true', resourceVersion: list.metadata.resourceVersion, fieldSelector: `metadata.name=${name}` });
    const stream = await this.admin.stream(`${path}?${query}`);
    return new Promise((resolve, reject) => {
      let buffer = '';
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.#waits.delete(cancel);
        stream.destroy();
        if (error) reject(error);
        else resolve();
      };
      const cancel = () => finish(new Error(`closed while waiting for ${what}`));
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      this.#waits.add(cancel);
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffer += chunk;
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
          const event = JSON.parse(buffer.slice(0, nl)) as { type: string; object: Record<string, unknown> };
          buffer = buffer.slice(nl + 1);
          if (predicate(event.type === 'DELETED' ? undefined : event.object)) return finish();
        }
      });
      stream.on('end', () => finish(new Error(`the watch ended while waiting for ${what}`)));
      stream.on('error', (error) => finish(error));
    });
  }

  async close(graceMs = 15_000): Promise<void> {
    for (const cancel of [...this.#waits]) cancel();
    await Promise.all(this.#pods.map(async (p) => (await p.container.child.stop(graceMs), await p.pod.stop())));
    for (const cleanup of this.#cleanups.splice(0)) await cleanup();
    await this.cluster.stop();
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** The host cluster with the CRD, the CA Secret and the given host manifests applied. */
export class HostRig extends ClusterRig {
  /** The proxy's service account as the apiserver names it. */
  readonly proxyUser: string;

  private constructor(
    cluster: DevCluster,
    dir: string,
    readonly objects: readonly Manifest[],
  ) {
    super(cluster, dir, join(dir, 'host.kubeconfig'), true);
    const deployment = find(objects, 'Deployment', 'tower');
    const spec = (deployment['spec'] as { template: { spec: PodSpec } }).template.spec;
    this.proxyUser = `system:serviceaccount:${deployment.metadata.namespace ?? 'default'}:${spec.serviceAccountName ?? 'default'}`;
  }

  /** `objects`: the rendered host manifests, possibly changed by the test; `crd`: config/crd unless given. */
  static async install(objects: readonly Manifest[], crd?: readonly Manifest[]): Promise<HostRig> {
    const dir = await mkdtemp(join(tmpdir(), 'tower-deploy-'));
    const cluster = await startDevCluster({ name: 'host' });
    await cluster.writeKubeconfig(join(dir, 'host.kubeconfig'));
    const rig = new HostRig(cluster, dir, objects);
    try {
      await rig.apply(crd ?? (await render('crd')));
      await rig.apply(objects);
      const ca = await createSelfSignedCa();
      await writeFile(join(rig.dir, 'ca.crt'), ca.certPem);
      await writeFile(join(rig.dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
      await rig.kubectl.ok(['-n', 'kubesphere-system', 'create', 'secret', 'tls', 'tower-ca', `--cert=${join(rig.dir, 'ca.crt')}`, `--key=${join(rig.dir, 'ca.key')}`]);
    } catch (error) {
      await rig.close();
      throw error;
    }
    return rig;
  }

  /** Run the proxy as Deployment `tower` would (from `image` with runc, if given). */
  startProxy(image?: ImageBundle): Promise<PodRun> {
    return this.runPod(find(this.objects, 'Deployment', 'tower'), [], 'proxy', image);
  }

  /** What the proxy's service account asked for, allowed or not. */
  proxyRecords(): AuditRecord[] {
    return this.cluster.audit.records().filter((r) => r.user === this.proxyUser);
  }

}
