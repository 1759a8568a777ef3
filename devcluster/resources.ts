/**
 * The resource types the devcluster serves: a fixed set of built-in kinds plus
 * whatever the stored CustomResourceDefinitions declare. Discovery, OpenAPI,
 * routing and tables all read this registry.
 */
import type { JsonObject, KubeObject } from './types.js';
import { isObject } from './types.js';

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  format?: string;
  description?: string;
  priority?: number;
}

export interface ResourceType {
  group: string;
  version: string;
  /** every served version (the first is the preferred one) */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  hasStatus: boolean;
  /** built-in kinds take strategic merge patches and are encoded without TypeMeta in lists */
  builtin: boolean;
  /** a CRD's additionalPrinterColumns (per version), when declared */
  printerColumns?: Record<string, PrinterColumn[]>;
  /** the verbs discovery lists */
  verbs: string[];
  /** answers POSTs without storing anything (access reviews, token reviews): see reviews.ts */
  createOnly?: boolean;
  /** subresources other than status, for discovery (e.g. serviceaccounts/token) */
  subresources?: SubresourceInfo[];
}

export interface SubresourceInfo {
  name: string;
  group: string;
  version: string;
  kind: string;
  verbs: string[];
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function builtin(
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced: boolean,
  opts: { shortNames?: string[]; categories?: string[]; hasStatus?: boolean; singular?: string; subresources?: SubresourceInfo[] } = {},
): ResourceType {
  return {
    group,
    version,
    versions: [version],
    plural,
    singular: opts.singular ?? kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    shortNames: opts.shortNames ?? [],
    categories: opts.categories ?? [],
    hasStatus: opts.hasStatus ?? false,
    builtin: true,
    verbs: ALL_VERBS,
    ...(opts.subresources ? { subresources: opts.subresources } : {}),
  };
}

/** A create-only review API (nothing is stored). */
function review(group: string, plural: string, kind: string, namespaced = false): ResourceType {
  return { ...builtin(group, 'v1', plural, kind, namespaced), verbs: ['create'], createOnly: true };
}

const RBAC = 'rbac.authorization.k8s.io';

export const BUILTIN_TYPES: readonly ResourceType[] = [
  // core/v1 in the alphabetical order of a real apiserver's discovery
  builtin('', 'v1', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  builtin('', 'v1', 'endpoints', 'Endpoints', true, { shortNames: ['ep'], singular: 'endpoints' }),
  builtin('', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
  builtin('', 'v1', 'namespaces', 'Namespace', false, { shortNames: ['ns'], hasStatus: true }),
  builtin('', 'v1', 'nodes', 'Node', false, { shortNames: ['no'], hasStatus: true }),
  // Pods can be stored and listed, but nothing schedules or runs them: they stay Pending.
  builtin('', 'v1', 'pods', 'Pod', true, { shortNames: ['po'], categories: ['all'], hasStatus: true }),
  builtin('', 'v1', 'secrets', 'Secret', true),
  builtin('', 'v1', 'serviceaccounts', 'ServiceAccount', true, {
    shortNames: ['sa'],
    subresources: [{ name: 'token', group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] }],
  }),
  builtin('', 'v1', 'services', 'Service', true, { shortNames: ['svc'], categories: ['all'], hasStatus: true }),
  // Deployments and PodDisruptionBudgets are stored only: no controller makes ReplicaSets or Pods.
  builtin('apps', 'v1', 'deployments', 'Deployment', true, { shortNames: ['deploy'], categories: ['all'], hasStatus: true }),
  review('authentication.k8s.io', 'selfsubjectreviews', 'SelfSubjectReview'),
  review('authentication.k8s.io', 'tokenreviews', 'TokenReview'),
  review('authorization.k8s.io', 'localsubjectaccessreviews', 'LocalSubjectAccessReview', true),
  review('authorization.k8s.io', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview'),
  review('authorization.k8s.io', 'selfsubjectrulesreviews', 'SelfSubjectRulesReview'),
  review('authorization.k8s.io', 'subjectaccessreviews', 'SubjectAccessReview'),
  builtin('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  builtin('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, { shortNames: ['pdb'], hasStatus: true }),
  builtin(RBAC, 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  builtin(RBAC, 'v1', 'clusterroles', 'ClusterRole', false),
  builtin(RBAC, 'v1', 'rolebindings', 'RoleBinding', true),
  builtin(RBAC, 'v1', 'roles', 'Role', true),
  builtin('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, {
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    hasStatus: true,
  }),
];

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

/** The resource type a CRD declares, or undefined when its spec is unusable. */
export function typeFromCrd(crd: KubeObject | JsonObject): ResourceType | undefined {
  const spec: unknown = crd['spec'];
  if (!isObject(spec)) return undefined;
  const names = spec['names'];
  const group = spec['group'];
  if (!isObject(names) || typeof group !== 'string') return undefined;
  const plural = names['plural'];
  const kind = names['kind'];
  if (typeof plural !== 'string' || typeof kind !== 'string') return undefined;
  const served = (Array.isArray(spec['versions']) ? spec['versions'] : []).filter(isObject).filter((v) => v['served'] !== false);
  if (served.length === 0) return undefined;
  // Preferred version: the storage version if served, else the first served one.
  served.sort((a, b) => (b['storage'] === true ? 1 : 0) - (a['storage'] === true ? 1 : 0));
  const versions = served.map((v) => String(v['name']));
  const printerColumns: Record<string, PrinterColumn[]> = {};
  let hasStatus = false;
  for (const v of served) {
    const sub = v['subresources'];
    if (isObject(sub) && isObject(sub['status'])) hasStatus = true;
    if (Array.isArray(v['additionalPrinterColumns'])) {
      printerColumns[String(v['name'])] = v['additionalPrinterColumns'].filter(isObject).map((c) => ({
        name: String(c['name'] ?? ''),
        type: String(c['type'] ?? 'string'),
        jsonPath: String(c['jsonPath'] ?? ''),
        ...(typeof c['format'] === 'string' ? { format: c['format'] } : {}),
        ...(typeof c['description'] === 'string' ? { description: c['description'] } : {}),
        ...(typeof c['priority'] === 'number' ? { priority: c['priority'] } : {}),
      }));
    }
  }
  return {
    group,
    version: versions[0] as string,
    versions,
    plural,
    singular: typeof names['singular'] === 'string' && names['singular'] ? names['singular'] : kind.toLowerCase(),
    kind,
    listKind: typeof names['listKind'] === 'string' && names['listKind'] ? names['listKind'] : `${kind}List`,
    namespaced: spec['scope'] !== 'Cluster',
    shortNames: strings(names['shortNames']),
    categories: strings(names['categories']),
    hasStatus,
    builtin: false,
    printerColumns,
    verbs: ALL_VERBS,
  };
}

/** Lookup of types by group and plural; CRD-defined types come and go. */
export class Registry {
  private readonly custom = new Map<string, ResourceType>();

  all(): ResourceType[] {
    return [...BUILTIN_TYPES, ...this.custom.values()];
  }

  /** The type served at group/version/plural, if any. */
  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.all().find((t) => t.group === group && t.plural === plural && t.versions.includes(version));
  }

  byGroupResource(group: string, plural: string): ResourceType | undefined {
    return this.all().find((t) => t.group === group && t.plural === plural);
  }

  setCustom(crdName: string, type: ResourceType | undefined): void {
    if (type) this.custom.set(crdName, type);
    else this.custom.delete(crdName);
  }

  /** group → versions served, in a stable order (core group first). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of this.all()) {
      const vs = out.get(t.group) ?? [];
      for (const v of t.versions) if (!vs.includes(v)) vs.push(v);
      out.set(t.group, vs);
    }
    return out;
  }
}

/** The storage key of a group-resource: the same object whichever version it is read at. */
export function typeKey(t: { group: string; plural: string }): string {
  return `${t.group}/${t.plural}`;
}
