/**
 * Every kustomization under config/ renders with `kubectl kustomize` alone and applies
 * server-side to a devcluster; every Deployment runs non-root with a read-only root,
 * no privilege escalation, no capabilities and the RuntimeDefault seccomp profile, has
 * /livez and /readyz probes on a declared port, resource requests and a memory limit,
 * and takes secrets only from Secrets. The host and member Deployments and the tower
 * Service replace KubeSphere's Go tower objects in place (same names, same selectors).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterRig } from './host-rig.js';
import { find, kustomizations, render, type Manifest } from './manifests.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { join } from 'node:path';

interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
    containers: Container[];
  };
}
const template = (d: Manifest) => (d['spec'] as { template: PodTemplate }).template;
const selectorOf = (o: Manifest) => (o['spec'] as { selector: { matchLabels?: Record<string, string> } & Record<string, string> }).selector;

/** The ServiceMonitor CRD, as the Prometheus Operator installs it (enough to accept one). */
const SERVICE_MONITOR_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    names: { kind: 'ServiceMonitor', listKind: 'ServiceMonitorList', plural: 'servicemonitors', singular: 'servicemonitor' },
    scope: 'Namespaced',
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

/** KubeSphere 3.x's Go tower in the host and its agent in a member: the identity fields that must survive. */
const GO_TOWER = [
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'tower', namespace: 'kubesphere-system', labels: { app: 'tower', 'app.kubernetes.io/name': 'tower' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'tower', 'app.kubernetes.io/name': 'tower' } },
      template: {
        metadata: { labels: { app: 'tower', 'app.kubernetes.io/name': 'tower' } },
        spec: { serviceAccountName: 'kubesphere', containers: [{ name: 'tower', image: 'kubesphere/tower:v3.4.0', command: ['/proxy', '--ca-cert=/ca.crt', '--ca-key=/ca.key', '--v=4', '--leader-elect=true'] }] },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'tower', namespace: 'kubesphere-system', labels: { app: 'tower' } },
    spec: { type: 'LoadBalancer', selector: { app: 'tower' }, ports: [{ port: 8080, protocol: 'TCP', targetPort: 8080 }] },
  },
];
const GO_AGENT = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'cluster-agent', namespace: 'kubesphere-system' },
  spec: {
    selector: { matchLabels: { app: 'agent', 'app.kubernetes.io/part-of': 'tower' } },
    template: {
      metadata: { labels: { app: 'agent', 'app.kubernetes.io/part-of': 'tower' } },
      spec: { serviceAccountName: 'kubesphere', containers: [{ name: 'agent', image: 'kubesphere/tower:v3.4.0', command: ['/agent', '--name=alpha', '--token=0123', '--proxy-server=http://192.0.2.1:8080'] }] },
    },
  },
};

describe('config/: every kustomization renders and applies server-side; Deployments are locked down and probed', { timeout: 150_000 }, () => {
  let dirs: string[];
  const rendered = new Map<string, Manifest[]>();
  let host: ClusterRig;
  let member: ClusterRig;

  before(async () => {
    dirs = await kustomizations();
    for (const d of dirs) rendered.set(d, await render(d));
    [host, member] = await Promise.all([ClusterRig.start('host'), ClusterRig.start('member')]);
  });
  after(async () => {
    await host?.close();
    await member?.close();
  });

  it('finds the CRD, the host base and its Service-type and ServiceMonitor overlays, the member base and its read-only overlay', () => {
    assert.deepEqual(dirs, ['crd', 'host/base', 'host/overlays/clusterip', 'host/overlays/loadbalancer', 'host/overlays/nodeport', 'host/overlays/service-monitor', 'member/base', 'member/overlays/read-only']);
  });

  it('applies each one server-side, every object accepted', async () => {
    await host.apply([SERVICE_MONITOR_CRD]);
    for (const [dir, objects] of rendered) {
      const target = dir.startsWith('member/') ? member : host;
      const out = await target.apply(objects);
      const lines = out.trim().split('\n');
      assert.equal(lines.length, objects.length, `${dir}: ${out}`);
      assert.ok(lines.every((l) => / serverside-applied$/.test(l)), `${dir}:\n${out}`);
    }
    const svc = (await host.kubectl.ok(['-n', 'kubesphere-system', 'get', 'servicemonitor', 'tower', '-o', 'name'])).trim();
    assert.equal(svc, 'servicemonitor.monitoring.coreos.com/tower');
  });

  it('chooses the tower Service type by overlay: ClusterIP, NodePort, LoadBalancer', () => {
    const type = (dir: string) => (find(rendered.get(dir) ?? [], 'Service', 'tower')['spec'] as { type: string }).type;
    assert.equal(type('host/base'), 'ClusterIP');
    assert.equal(type('host/overlays/clusterip'), 'ClusterIP');
    assert.equal(type('host/overlays/nodeport'), 'NodePort');
    assert.equal(type('host/overlays/loadbalancer'), 'LoadBalancer');
  });

  it('locks every Deployment down: non-root, read-only root, no escalation, no capabilities, RuntimeDefault seccomp', () => {
    for (const [dir, objects] of rendered) {
      for (const d of objects.filter((o) => o.kind === 'Deployment')) {
        const pod = template(d).spec;
        const where = `${dir} Deployment ${d.metadata.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, where);
        assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${where}: runAsUser`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', where);
        for (const c of pod.containers) {
          assert.deepEqual(
            { ...c.securityContext, capabilities: c.securityContext?.capabilities?.drop },
            { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: ['ALL'] },
            `${where} container ${c.name}`,
          );
        }
      }
    }
  });

  it('probes every container on /livez and /readyz at a port it declares, and sizes it', () => {
    for (const [dir, objects] of rendered) {
      for (const d of objects.filter((o) => o.kind === 'Deployment')) {
        for (const c of template(d).spec.containers) {
          const where = `${dir} ${d.metadata.name}/${c.name}`;
          const ports = new Set((c.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
          assert.equal(c.livenessProbe?.httpGet?.path, '/livez', where);
          assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', where);
          assert.ok(ports.has(c.livenessProbe?.httpGet?.port ?? -1) && ports.has(c.readinessProbe?.httpGet?.port ?? -1), `${where}: probe ports are declared`);
          assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'] && c.resources.limits?.['memory'], `${where}: requests and a memory limit`);
        }
      }
    }
  });

  it('takes the agent\'s proxy URL and token from Secret tower-agent, never as a value in the manifest', () => {
    for (const dir of ['member/base', 'member/overlays/read-only']) {
      const c = template(find(rendered.get(dir) ?? [], 'Deployment', 'cluster-agent')).spec.containers[0];
      assert.ok(c);
      assert.deepEqual(c.command, ['tower-agent']);
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
      for (const [name, key] of [['TOWER_TOKEN', 'token'], ['TOWER_PROXY_SERVER', 'proxy-server'], ['TOWER_CLUSTER_NAME', 'name']] as const) {
        assert.deepEqual(env[name]?.valueFrom?.secretKeyRef, { name: 'tower-agent', key }, `${dir} ${name}`);
      }
      assert.ok(!(c.env ?? []).some((e) => e.value !== undefined), `${dir}: no literal env values`);
      assert.ok(c.args?.includes('--token=$(TOWER_TOKEN)') && c.args.includes('--proxy-server=$(TOWER_PROXY_SERVER)'), dir);
    }
  });

  it('runs the proxy as KubeSphere\'s tower is reached: 2 replicas with --leader-elect behind Service tower:8080, PDB over them', () => {
    for (const dir of dirs.filter((d) => d.startsWith('host/'))) {
      const objects = rendered.get(dir) ?? [];
      const d = find(objects, 'Deployment', 'tower');
      const pod = template(d);
      const c = pod.spec.containers[0];
      assert.ok(c);
      assert.equal((d['spec'] as { replicas: number }).replicas, 2, dir);
      assert.deepEqual(c.command, ['tower-proxy'], dir);
      assert.ok(c.args?.includes('--leader-elect'), dir);
      const svc = find(objects, 'Service', 'tower')['spec'] as { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string }> };
      assert.deepEqual(svc.ports.map((p) => [p.port, c.ports?.find((cp) => cp.name === p.targetPort)?.containerPort]), [[8080, 8080]], dir);
      for (const [what, sel] of [['Service', svc.selector], ['PDB', selectorOf(find(objects, 'PodDisruptionBudget', 'tower')).matchLabels ?? {}]] as const) {
        assert.ok(Object.entries(sel).every(([k, v]) => pod.metadata.labels[k] === v), `${dir}: the ${what} selects the proxy pods`);
      }
      // The mc-<cluster> Services the proxy creates select these labels.
      assert.equal(pod.metadata.labels['app'], 'tower');
      assert.equal(pod.metadata.labels['app.kubernetes.io/name'], 'tower');
    }
  });

  it('replaces KubeSphere\'s Go tower and cluster-agent in place: same names and selectors, applied over them', async () => {
    const upgradeHost = await ClusterRig.start('upgrade', host.dir);
    try {
      await upgradeHost.apply(GO_TOWER);
      const out = await upgradeHost.kubectl.ok(['apply', '--server-side', '--force-conflicts', '-k', join(PACKAGE_ROOT, 'config', 'host', 'overlays', 'loadbalancer')]);
      assert.match(out, /deployment\.apps\/tower serverside-applied/);
      const d = JSON.parse(await upgradeHost.kubectl.ok(['-n', 'kubesphere-system', 'get', 'deployment', 'tower', '-o', 'json'])) as Manifest;
      assert.deepEqual(template(d).spec.containers.map((c) => c.command), [['tower-proxy']]);
      const svc = JSON.parse(await upgradeHost.kubectl.ok(['-n', 'kubesphere-system', 'get', 'service', 'tower', '-o', 'json'])) as { spec: { type: string; ports: Array<{ port: number }> } };
      assert.deepEqual([svc.spec.type, svc.spec.ports.map((p) => p.port)], ['LoadBalancer', [8080]]);
      await member.apply([GO_AGENT]);
      const agentOut = await member.kubectl.ok(['apply', '--server-side', '--force-conflicts', '-k', join(PACKAGE_ROOT, 'config', 'member', 'base')]);
      assert.match(agentOut, /deployment\.apps\/cluster-agent serverside-applied/);
    } finally {
      await upgradeHost.close();
    }
  });

  it('would refuse a Deployment whose selector differs from the Go tower\'s (so the names and selectors above matter)', async () => {
    const other = structuredClone(find(rendered.get('host/base') ?? [], 'Deployment', 'tower'));
    const spec = other['spec'] as { selector: { matchLabels: Record<string, string> }; template: PodTemplate };
    spec.selector.matchLabels['app.kubernetes.io/component'] = 'proxy';
    const r = await host.kubectl.run(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(other) });
    assert.match(r.stderr, /field is immutable/);
  });
});
