/**
 * Kind-specific rules a real apiserver's registry strategies apply on write:
 * defaults, allocations and derived status. Everything else is generic (objects.ts).
 */
import type { JsonObject, KubeObject } from './types.js';
import { ApiError, errors, isObject } from './types.js';
import type { Ipam } from './ipam.js';
import type { ResourceType } from './resources.js';
import { prepareDeployment } from './kinds-deployment.js';
import { prepareBinding } from './kinds-rbac.js';

export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

export interface KindContext {
  ipam: Ipam;
  now: () => string;
}

function invalid(t: ResourceType, obj: KubeObject, message: string): ApiError {
  return errors.invalid(t.group, t.kind, obj.metadata.name ?? '', message);
}

function specOf(obj: KubeObject): JsonObject {
  const spec = isObject(obj['spec']) ? obj['spec'] : {};
  obj['spec'] = spec;
  return spec;
}

function prepareNamespace(obj: KubeObject): void {
  obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
  const spec = specOf(obj);
  if (!Array.isArray(spec['finalizers'])) spec['finalizers'] = ['kubernetes'];
}

function prepareSecret(obj: KubeObject): void {
  if (typeof obj['type'] !== 'string' || obj['type'] === '') obj['type'] = 'Opaque';
  const stringData = obj['stringData'];
  if (isObject(stringData)) {
    const data = isObject(obj['data']) ? obj['data'] : {};
    for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v ?? '')).toString('base64');
    obj['data'] = data;
  }
  delete obj['stringData'];
}

function prepareService(t: ResourceType, obj: KubeObject, old: KubeObject | undefined, ctx: KindContext): void {
  const spec = specOf(obj);
  const oldSpec = old && isObject(old['spec']) ? old['spec'] : undefined;
  const type = typeof spec['type'] === 'string' && spec['type'] ? spec['type'] : 'ClusterIP';
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(type))
    throw invalid(t, obj, `spec.type: Unsupported value: "${type}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`);
  spec['type'] = type;
  const wantsNodePorts = type === 'NodePort' || type === 'LoadBalancer';
  const oldPorts = Array.isArray(oldSpec?.['ports']) ? oldSpec['ports'].filter(isObject) : [];
  const ports = Array.isArray(spec['ports']) ? spec['ports'] : [];
  for (const [i, p] of ports.entries()) {
    if (!isObject(p)) throw invalid(t, obj, `spec.ports[${i}]: Invalid value: must be an object`);
    const port = p['port'];
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      throw invalid(t, obj, `spec.ports[${i}].port: Invalid value: ${JSON.stringify(port ?? null)}: must be between 1 and 65535, inclusive`);
    if (typeof p['protocol'] !== 'string') p['protocol'] = 'TCP';
    if (p['targetPort'] === undefined) p['targetPort'] = port;
    if (wantsNodePorts) {
      const previous = oldPorts.find((o) => o['port'] === port && o['protocol'] === p['protocol']);
      if (typeof p['nodePort'] !== 'number' && typeof previous?.['nodePort'] === 'number') p['nodePort'] = previous['nodePort'];
      else if (typeof p['nodePort'] !== 'number' || p['nodePort'] !== previous?.['nodePort']) {
        const got = ctx.ipam.allocatePort(typeof p['nodePort'] === 'number' ? p['nodePort'] : undefined);
        if (got instanceof Error) throw invalid(t, obj, `spec.ports[${i}].nodePort: Invalid value: ${got.message}`);
        p['nodePort'] = got;
      }
    } else delete p['nodePort'];
  }
  if (ports.length > 0) spec['ports'] = ports;
  if (type === 'ExternalName') {
    delete spec['clusterIP'];
    delete spec['clusterIPs'];
  } else if (oldSpec && typeof oldSpec['clusterIP'] === 'string' && oldSpec['clusterIP']) {
    // Like PatchAllocatedValues: an update that leaves the IP out keeps the allocated one.
    if (!spec['clusterIP']) spec['clusterIP'] = oldSpec['clusterIP'];
    else if (spec['clusterIP'] !== oldSpec['clusterIP'])
      throw invalid(t, obj, `spec.clusterIPs[0]: Invalid value: []string{"${String(spec['clusterIP'])}"}: may not change once set`);
    spec['clusterIPs'] = [spec['clusterIP']];
  } else if (spec['clusterIP'] === 'None') {
    spec['clusterIPs'] = ['None'];
  } else {
    const got = ctx.ipam.allocateIp(typeof spec['clusterIP'] === 'string' && spec['clusterIP'] ? spec['clusterIP'] : undefined);
    if (got instanceof Error) throw invalid(t, obj, `spec.clusterIPs: Invalid value: ${got.message}`);
    spec['clusterIP'] = got;
    spec['clusterIPs'] = [got];
  }
  if (type !== 'ExternalName') {
    spec['sessionAffinity'] ??= 'None';
    spec['ipFamilies'] ??= ['IPv4'];
    spec['ipFamilyPolicy'] ??= 'SingleStack';
    spec['internalTrafficPolicy'] ??= 'Cluster';
  }
  if (wantsNodePorts) spec['externalTrafficPolicy'] ??= 'Cluster';
  if (type === 'LoadBalancer') spec['allocateLoadBalancerNodePorts'] ??= true;
  if (!old) obj['status'] = { loadBalancer: {} };
}

function prepareCrd(t: ResourceType, obj: KubeObject, ctx: KindContext): void {
  const spec = specOf(obj);
  const names = isObject(spec['names']) ? spec['names'] : {};
  const group = spec['group'];
  const plural = names['plural'];
  const kind = names['kind'];
  if (typeof group !== 'string' || !group) throw invalid(t, obj, 'spec.group: Required value');
  if (typeof plural !== 'string' || !plural) throw invalid(t, obj, 'spec.names.plural: Required value');
  if (typeof kind !== 'string' || !kind) throw invalid(t, obj, 'spec.names.kind: Required value');
  if (obj.metadata.name !== `${plural}.${group}`)
    throw invalid(t, obj, `metadata.name: Invalid value: "${obj.metadata.name ?? ''}": must be spec.names.plural+"."+spec.group`);
  if (spec['scope'] !== 'Namespaced' && spec['scope'] !== 'Cluster')
    throw invalid(t, obj, `spec.scope: Unsupported value: "${String(spec['scope'] ?? '')}": supported values: "Cluster", "Namespaced"`);
  const versions = Array.isArray(spec['versions']) ? spec['versions'].filter(isObject) : [];
  if (versions.length === 0) throw invalid(t, obj, 'spec.versions: Invalid value: null: must have exactly one version marked as storage version');
  if (versions.filter((v) => v['storage'] === true).length !== 1)
    throw invalid(t, obj, 'spec.versions: Invalid value: must have exactly one version marked as storage version');
  names['singular'] ??= kind.toLowerCase();
  names['listKind'] ??= `${kind}List`;
  spec['names'] = names;
  spec['conversion'] ??= { strategy: 'None' };
  const storage = versions.find((v) => v['storage'] === true);
  const now = ctx.now();
  const condition = (type: string, reason: string, message: string): JsonObject => ({
    type,
    status: 'True',
    lastTransitionTime: now,
    reason,
    message,
  });
  obj['status'] = {
    acceptedNames: { ...names },
    conditions: [
      condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    storedVersions: [String(storage?.['name'] ?? '')],
  };
  const finalizers = obj.metadata.finalizers ?? [];
  if (!finalizers.includes(CRD_CLEANUP_FINALIZER)) obj.metadata.finalizers = [...finalizers, CRD_CLEANUP_FINALIZER];
}

/** Defaults and allocations for a create (`old` undefined) or an update. */
export function prepareWrite(t: ResourceType, obj: KubeObject, old: KubeObject | undefined, ctx: KindContext): void {
  if (!t.builtin) return;
  const gr = `${t.group}/${t.plural}`;
  switch (gr) {
    case '/namespaces':
      prepareNamespace(obj);
      if (!old) obj['status'] = { phase: 'Active' };
      break;
    case '/secrets':
      prepareSecret(obj);
      break;
    case '/services':
      prepareService(t, obj, old, ctx);
      break;
    case '/pods':
      if (!old) obj['status'] = { phase: 'Pending', qosClass: 'BestEffort' };
      break;
    case 'apiextensions.k8s.io/customresourcedefinitions':
      if (!old) prepareCrd(t, obj, ctx);
      break;
    case 'apps/deployments':
      prepareDeployment(obj, old);
      break;
    case 'rbac.authorization.k8s.io/rolebindings':
      prepareBinding('RoleBinding', obj, old);
      break;
    case 'rbac.authorization.k8s.io/clusterrolebindings':
      prepareBinding('ClusterRoleBinding', obj, old);
      break;
  }
}

/** Give back what a removed object held (cluster IPs, node ports). */
export function releaseOnRemove(t: ResourceType, obj: KubeObject, ctx: KindContext): void {
  if (t.group !== '' || t.plural !== 'services') return;
  const spec = isObject(obj['spec']) ? obj['spec'] : {};
  ctx.ipam.releaseIp(spec['clusterIP']);
  for (const p of Array.isArray(spec['ports']) ? spec['ports'] : []) if (isObject(p)) ctx.ipam.releasePort(p['nodePort']);
}
