/**
 * API discovery: `/api`, `/apis`, `/apis/<group>` and the per-group-version
 * resource lists, plus aggregated discovery (apidiscovery.k8s.io v2 and v2beta1)
 * when the client asks for it. Everything is computed from the live registry, so
 * a CRD's resources appear as soon as its create returns.
 */
import type { Json, JsonObject } from './types.js';
import type { Registry, ResourceType } from './resources.js';

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';
const STATUS_VERBS = ['get', 'patch', 'update'];

export interface Reply {
  body: JsonObject;
  contentType: string;
}

/** Which aggregated discovery version the Accept header asks for, if any (in the client's order). */
export function aggregatedVersion(accept: string): 'v2' | 'v2beta1' | undefined {
  for (const part of accept.split(',')) {
    const p = part.replace(/\s+/g, '');
    if (!p.includes('g=apidiscovery.k8s.io') || !p.includes('as=APIGroupDiscoveryList')) continue;
    if (p.includes('v=v2beta1')) return 'v2beta1';
    if (p.includes('v=v2')) return 'v2';
  }
  return undefined;
}

function gv(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

function withOptional(base: JsonObject, key: string, list: string[]): JsonObject {
  if (list.length) base[key] = list;
  return base;
}

function resourceList(types: ResourceType[], group: string, version: string): JsonObject {
  const resources: Json[] = [];
  for (const t of types) {
    const entry: JsonObject = { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: t.verbs };
    withOptional(entry, 'shortNames', t.shortNames);
    withOptional(entry, 'categories', t.categories);
    resources.push(entry);
    if (t.hasStatus) resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: STATUS_VERBS });
    for (const s of t.subresources ?? [])
      resources.push({ name: `${t.plural}/${s.name}`, singularName: '', namespaced: t.namespaced, group: s.group, version: s.version, kind: s.kind, verbs: s.verbs });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv(group, version), resources };
}

function apiGroup(group: string, versions: string[]): JsonObject {
  const vs = versions.map((v) => ({ groupVersion: gv(group, v), version: v }));
  return { name: group, versions: vs, preferredVersion: vs[0] ?? null };
}

function aggregatedGroup(registry: Registry, group: string, versions: string[]): JsonObject {
  return {
    metadata: group ? { name: group, creationTimestamp: null } : { creationTimestamp: null },
    versions: versions.map((version) => ({
      version,
      freshness: 'Current',
      resources: registry
        .all()
        .filter((t) => t.group === group && t.versions.includes(version))
        .map((t) => {
          const responseKind = { group, version, kind: t.kind };
          const r: JsonObject = {
            resource: t.plural,
            responseKind,
            scope: t.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: t.singular,
            verbs: t.verbs,
          };
          withOptional(r, 'shortNames', t.shortNames);
          withOptional(r, 'categories', t.categories);
          const subresources: Json[] = [];
          if (t.hasStatus) subresources.push({ subresource: 'status', responseKind, verbs: STATUS_VERBS });
          for (const s of t.subresources ?? [])
            subresources.push({ subresource: s.name, responseKind: { group: s.group, version: s.version, kind: s.kind }, verbs: s.verbs });
          if (subresources.length) r['subresources'] = subresources;
          return r;
        }),
    })),
  };
}

/** Answer a discovery path, or undefined if `path` is not one. */
export function discover(path: string, accept: string, registry: Registry, serverAddress: string): Reply | undefined {
  const json = (body: JsonObject): Reply => ({ body, contentType: 'application/json' });
  const groups = registry.groups();
  const aggregated = aggregatedVersion(accept);
  if (path === '/api' || path === '/apis') {
    const core = path === '/api';
    if (aggregated) {
      const items = [...groups.entries()].filter(([g]) => (g === '') === core).map(([g, vs]) => aggregatedGroup(registry, g, vs));
      return {
        body: { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${aggregated}`, metadata: {}, items },
        contentType: aggregated === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1,
      };
    }
    if (core)
      return json({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] });
    const list = [...groups.entries()].filter(([g]) => g !== '').map(([g, vs]) => apiGroup(g, vs));
    return json({ kind: 'APIGroupList', apiVersion: 'v1', groups: list });
  }
  if (path === '/api/v1') return json(resourceList(registry.all().filter((t) => t.group === '' && t.versions.includes('v1')), '', 'v1'));
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return undefined;
  const group = m[1] as string;
  const versions = groups.get(group);
  if (!versions) return undefined;
  if (m[2] === undefined) return json({ kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) });
  const version = m[2];
  if (!versions.includes(version)) return undefined;
  return json(resourceList(registry.all().filter((t) => t.group === group && t.versions.includes(version)), group, version));
}
