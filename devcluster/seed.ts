/**
 * What a fresh cluster holds: the system namespaces (and `kubesphere-system`), the
 * `kubernetes` Service, the default RBAC policy, and a few Nodes with realistic status so
 * that `kubectl get node` shows STATUS Ready, ROLES and VERSION.
 */
import type { JsonObject, KubeObject } from './types.js';
import type { Registry, ResourceType } from './resources.js';
import type { ObjectApi } from './objects.js';
import { Ipam } from './ipam.js';
import { BOOTSTRAP_CLUSTER_ROLE_BINDINGS, BOOTSTRAP_CLUSTER_ROLES } from './bootstrap-policy.js';

export const SEED_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system', 'kubesphere-system'];

function node(name: string, index: number, controlPlane: boolean, kubeletVersion: string): KubeObject {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition = (type: string, status: string, reason: string, message: string): JsonObject => ({
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
    reason,
    message,
  });
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
  };
  if (controlPlane) {
    labels['node-role.kubernetes.io/control-plane'] = '';
    labels['node.kubernetes.io/exclude-from-external-load-balancers'] = '';
  } else labels['node-role.kubernetes.io/worker'] = '';
  const resources = { cpu: '4', 'ephemeral-storage': '102625208Ki', memory: '8129744Ki', pods: '110' };
  return {
    metadata: { name, labels, annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
    spec: {
      podCIDR: `10.244.${index}.0/24`,
      podCIDRs: [`10.244.${index}.0/24`],
      providerID: `devcluster://${name}`,
      ...(controlPlane ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {}),
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: `172.18.0.${index + 2}` },
        { type: 'Hostname', address: name },
      ],
      allocatable: resources,
      capacity: resources,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: crypto.randomUUID(),
        containerRuntimeVersion: 'containerd://1.7.24',
        kernelVersion: '6.1.0-devcluster',
        kubeProxyVersion: '',
        kubeletVersion,
        machineID: crypto.randomUUID().replace(/-/g, ''),
        operatingSystem: 'linux',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        systemUUID: crypto.randomUUID(),
      },
    },
  };
}

function type(registry: Registry, group: string, plural: string): ResourceType {
  const t = registry.byGroupResource(group, plural);
  if (!t) throw new Error(`devcluster: built-in type ${group}/${plural} missing`);
  return t;
}

export function nodeNames(clusterName: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? `${clusterName}-control-plane` : `${clusterName}-worker${i === 1 ? '' : i}`));
}

export function seed(objects: ObjectApi, registry: Registry, clusterName: string, nodeCount: number, gitVersion: string): void {
  const nsType = type(registry, '', 'namespaces');
  for (const name of SEED_NAMESPACES) objects.create(nsType, 'v1', undefined, { metadata: { name } });
  objects.create(type(registry, '', 'services'), 'v1', 'default', {
    metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { type: 'ClusterIP', clusterIP: Ipam.kubernetesIp, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
  });
  const rbac = 'rbac.authorization.k8s.io';
  for (const role of BOOTSTRAP_CLUSTER_ROLES) objects.create(type(registry, rbac, 'clusterroles'), 'v1', undefined, structuredClone(role));
  for (const b of BOOTSTRAP_CLUSTER_ROLE_BINDINGS) objects.create(type(registry, rbac, 'clusterrolebindings'), 'v1', undefined, structuredClone(b));
  const nodeType = type(registry, '', 'nodes');
  nodeNames(clusterName, nodeCount).forEach((name, i) => objects.create(nodeType, 'v1', undefined, node(name, i, i === 0, gitVersion)));
}
