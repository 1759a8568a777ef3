/**
 * The seed flow on an RBAC-enforcing host, step by step, with the proxy running as its
 * Deployment: start (lease, lists, watches), a Cluster (token, ports, Service, status —
 * meeting a concurrent write of the Cluster and a Service created by someone else, as
 * happens when two writers race, so the re-reads after 409 happen too), optionally an
 * agent, then the Cluster's deletion and the proxy's SIGTERM (lease release).
 */
import { writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { seedClusterYaml } from '../../dev/demo/seed-cluster.js';
import type { AuditRecord, ResourceAttributes } from '../../devcluster/index.js';
import type { ClusterRig, HostRig, PodRun } from './host-rig.js';
import { find, type Manifest } from './manifests.js';
import type { ImageBundle } from './pod/runc.js';

export const NAMESPACE = 'kubesphere-system';
const CLUSTERS = '/apis/cluster.kubesphere.io/v1alpha1/clusters';
const SERVICES = `/api/v1/namespaces/${NAMESPACE}/services`;

/** Does the Cluster object have condition `type` True? */
export function hasCondition(type: string): (cluster: Record<string, unknown> | undefined) => boolean {
  return (cluster) => ((cluster?.['status'] as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

function isResource(r: AuditRecord): r is AuditRecord & { attributes: ResourceAttributes } {
  return r.attributes.resourceRequest;
}

export class HostFlow {
  proxy: PodRun | undefined;
  readonly #unhook: Array<() => void> = [];

  constructor(readonly rig: HostRig) {}

  /**
   * Start the proxy (from this checkout, or from `image` with runc); done once it watches
   * Clusters and Services (it leads and has synced).
   */
  async start(image?: ImageBundle): Promise<PodRun> {
    const proxy = await this.rig.startProxy(image);
    this.proxy = proxy;
    const watching = (resource: string) =>
      this.rig.record((r) => r.user === this.rig.proxyUser && r.allowed && isResource(r) && r.attributes.verb === 'watch' && r.attributes.resource === resource, `the proxy watching ${resource}`, 60_000);
    await Promise.all([watching('clusters'), watching('services')]).catch((error: Error) => {
      throw new Error(`${error.message}\nproxy:\n${proxy.container.child.tail(20)}`);
    });
    return proxy;
  }

  /**
   * Create Cluster `name` as the seed README does and wait for Initialized. Just before the
   * proxy's first write of it, an admin write lands (so the proxy's write meets a 409 and
   * it must re-read); just before its first Service create, Service mc-<name> appears (so
   * its create meets AlreadyExists, it reads the Service and updates it).
   */
  async createCluster(name: string): Promise<void> {
    let raced = { cluster: false, service: false };
    this.#unhook.push(
      this.rig.cluster.beforeHandling(async ({ user, attributes: a }) => {
        if (user !== this.rig.proxyUser || !a.resourceRequest) return;
        if (!raced.cluster && a.verb === 'update' && a.resource === 'clusters' && a.name === name) {
          raced = { ...raced, cluster: true };
          await this.rig.kubectl.ok(['label', 'cluster', name, 'test.tower.kubesphere.io/concurrent-write=1']);
        }
        if (!raced.service && a.verb === 'create' && a.resource === 'services') {
          raced = { ...raced, service: true };
          await this.rig.kubectl.ok(['-n', NAMESPACE, 'create', 'service', 'clusterip', `mc-${name}`, '--tcp=6443:6443']);
        }
      }),
    );
    await this.rig.kubectl.ok(['-n', NAMESPACE, 'create', '-f', '-'], { input: seedClusterYaml(name) });
    await this.rig.until(CLUSTERS, name, hasCondition('Initialized'), `Cluster ${name} Initialized`);
  }

  /** The Cluster's connection fields (token, ports, kubeconfig, endpoints). */
  async connection(name: string): Promise<{ token: string; kubernetesAPIServerPort: number; kubeconfig?: string; kubernetesAPIEndpoint?: string }> {
    const out = await this.rig.kubectl.ok(['get', 'cluster', name, '-o', 'jsonpath={.spec.connection}']);
    return JSON.parse(out) as { token: string; kubernetesAPIServerPort: number; kubeconfig?: string; kubernetesAPIEndpoint?: string };
  }

  /** The `tower` Service's ClusterIP: where agents in the member dial (through the test's routes). */
  async towerServiceIp(): Promise<string> {
    return (await this.rig.kubectl.ok(['-n', NAMESPACE, 'get', 'service', 'tower', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  }

  /** A connection to the proxy pod's agent port, as the `tower` Service gives one. */
  connectToProxy(): Socket {
    if (!this.proxy) throw new Error('the proxy is not running');
    return this.proxy.pod.connect(8080);
  }

  /**
   * In `member`: Secret tower-agent for Cluster `name` (the README's command), then the
   * agent as Deployment cluster-agent of `memberObjects` (from `image` with runc, if
   * given), dialing the tower Service's ClusterIP; done once the Cluster is AgentAvailable.
   */
  async startAgent(member: ClusterRig, memberObjects: readonly Manifest[], name: string, image?: ImageBundle): Promise<PodRun> {
    const conn = await this.connection(name);
    const towerIp = await this.towerServiceIp();
    await member.kubectl.ok(['-n', NAMESPACE, 'create', 'secret', 'generic', 'tower-agent', `--from-literal=name=${name}`, `--from-literal=proxy-server=http://${towerIp}:8080`, `--from-literal=token=${conn.token}`]);
    const agent = await member.runPod(find(memberObjects, 'Deployment', 'cluster-agent'), [{ host: towerIp, port: 8080, connect: () => this.connectToProxy() }], 'agent', image);
    await this.rig.until(CLUSTERS, name, hasCondition('AgentAvailable'), `Cluster ${name} AgentAvailable`).catch((error: Error) => {
      throw new Error(`${error.message}\nagent:\n${agent.container.child.tail(20)}`);
    });
    return agent;
  }

  /**
   * Cluster `name`'s kubeconfig (what ks-apiserver uses), written to a file, its server
   * pointed at the proxy pod's port for the cluster — where the mc-<name> Service leads.
   */
  async tunnelKubeconfig(name: string): Promise<string> {
    if (!this.proxy) throw new Error('the proxy is not running');
    const conn = await this.connection(name);
    const config = parseYaml(Buffer.from(conn.kubeconfig ?? '', 'base64').toString('utf8')) as { clusters?: Array<{ cluster: { server: string; 'tls-server-name'?: string } }> };
    const cluster = config.clusters?.[0]?.cluster;
    if (!cluster) throw new Error(`Cluster ${name} has no kubeconfig yet`);
    const local = await this.proxy.pod.expose(conn.kubernetesAPIServerPort);
    cluster['tls-server-name'] = new URL(cluster.server).hostname;
    cluster.server = `https://127.0.0.1:${local}`;
    const path = join(this.rig.dir, `config_${name}`);
    await writeFile(path, stringify(config), { mode: 0o600 });
    return path;
  }

  /** Delete the Cluster; done once its Service is gone. */
  /**
   * A Cluster whose port no proxy can bind: the proxy says so on it (ListenersReady False,
   * a Warning Event), then it is deleted.
   */
  async badPortCluster(name: string): Promise<void> {
    const yaml = seedClusterYaml(name).replace('    token: ""', '    token: ""\n    kubernetesAPIServerPort: 70000\n    kubesphereAPIServerPort: 16000');
    await this.rig.kubectl.ok(['-n', NAMESPACE, 'create', '-f', '-'], { input: yaml });
    await this.rig.kubectl.ok(['wait', '--for=condition=ListenersReady=False', `cluster/${name}`, '--timeout=30s']);
    await this.rig.kubectl.ok(['delete', 'cluster', name]);
  }

  async deleteCluster(name: string): Promise<void> {
    await this.rig.kubectl.ok(['delete', 'cluster', name]);
    await this.rig.until(SERVICES, `mc-${name}`, (service) => service === undefined, `Service mc-${name} deleted`);
  }

  /** SIGTERM, as the kubelet stops a pod; resolves with the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    for (const off of this.#unhook.splice(0)) off();
    if (!this.proxy) throw new Error('the proxy is not running');
    return this.proxy.container.child.stop(15_000);
  }
}
