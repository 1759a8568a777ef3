/**
 * A host devcluster with the Cluster CRD, a member devcluster, a proxy CA on disk and
 * kubectl — the stage for tests that run the real bin/proxy and bin/agent against
 * Kubernetes. Every process it starts is stopped by `close()`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedChild } from '../../dev/demo/child.js';
import { Kubectl } from '../../dev/demo/kubectl.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { pickFreePort } from '../../dev/demo/ports.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import type { ClusterObject } from '../../src/kube/cluster-types.js';
import { createSelfSignedCa } from '../../src/pki/index.js';

export interface KubeStage {
  readonly dir: string;
  readonly host: DevCluster;
  readonly member: DevCluster;
  readonly kubectl: Kubectl;
  readonly files: { readonly host: string; readonly member: string; readonly caCert: string; readonly caKey: string };
  /** bin/proxy against the host on `host` (127.0.0.1), with its endpoints published on 127.0.0.1. */
  startProxy(port: number, extra?: readonly string[], options?: { readonly name?: string; readonly host?: string }): ManagedChild;
  /** bin/agent of cluster `name` in the member, dialing `proxyPort`. */
  startAgent(name: string, token: string, proxyPort: number, extra?: readonly string[]): ManagedChild;
  getCluster(name: string): Promise<ClusterObject>;
  /** `kubectl wait --for=… cluster/NAME`. */
  waitCluster(name: string, forWhat: string, timeoutS?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startKubeStage(): Promise<KubeStage> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-stage-'));
  const [host, member] = await Promise.all([startDevCluster({ name: 'host' }), startDevCluster({ name: 'member' })]);
  const files = {
    host: await host.writeKubeconfig(join(dir, 'host.kubeconfig')),
    member: await member.writeKubeconfig(join(dir, 'member.kubeconfig')),
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
  };
  const ca = await createSelfSignedCa();
  await writeFile(files.caCert, ca.certPem);
  await writeFile(files.caKey, ca.keyPem, { mode: 0o600 });
  const kubectl = new Kubectl({
    kubeconfig: files.host,
    cacheDir: join(dir, 'kubectl-cache'),
    env: { ...process.env, KUBECONFIG: '', HOME: dir },
    cwd: PACKAGE_ROOT,
    timeoutMs: 30_000,
  });
  await kubectl.kustomizeCreate('config/crd');
  const children: ManagedChild[] = [];
  const spawnBin = (bin: string, name: string, args: readonly string[]) => {
    const child = new ManagedChild({ name, command: process.execPath, args: [join(PACKAGE_ROOT, 'bin', bin), ...args], cwd: PACKAGE_ROOT });
    children.push(child);
    return child;
  };
  return {
    dir,
    host,
    member,
    kubectl,
    files,
    startProxy: (port, extra = [], { name = 'proxy', host: address = '127.0.0.1' } = {}) =>
      spawnBin('proxy', name, [
        '--ca-cert', files.caCert,
        '--ca-key', files.caKey,
        '--host', address,
        '--port', String(port),
        '--publish-service-address', '127.0.0.1',
        '--kubeconfig', files.host,
        ...extra,
      ]),
    startAgent: (name, token, proxyPort, extra = []) =>
      spawnBin('agent', `agent ${name}`, [
        '--kubeconfig', files.member,
        '--token', token,
        '--name', name,
        '--proxy-server', `http://127.0.0.1:${proxyPort}`,
        '--kubesphere-service', '127.0.0.1:1',
        '--max-retry-interval', '1s',
        ...extra,
      ]),
    getCluster: async (name) => JSON.parse(await kubectl.ok(['get', 'cluster', name, '-o', 'json'])) as ClusterObject,
    waitCluster: async (name, forWhat, timeoutS = 20) => {
      await kubectl.ok(['wait', `--for=${forWhat}`, `cluster/${name}`, `--timeout=${timeoutS}s`], { timeoutMs: (timeoutS + 5) * 1000 });
    },
    close: async () => {
      await Promise.all(children.map((c) => c.stop(3000)));
      await Promise.all([host.stop(), member.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A free port on 127.0.0.1 (for a proxy's agent port). */
export const freeAgentPort = pickFreePort;
