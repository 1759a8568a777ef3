/**
 * A minimal OpenAPI v3: the index of every group-version, and per group-version a
 * document whose operations carry `x-kubernetes-group-version-kind` and the
 * `fieldValidation` parameter. That is what kubectl reads to decide that the
 * server validates fields itself (so `create -f`/`apply`/`replace` need nothing
 * more). No schemas are published: `kubectl explain` is not supported.
 */
import { createHash } from 'node:crypto';
import type { Json, JsonObject } from './types.js';
import type { Registry, ResourceType } from './resources.js';

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

const PARAM = (name: string, description: string): JsonObject => ({
  name,
  in: 'query',
  description,
  schema: { type: 'string', uniqueItems: true },
});

const COMMON_WRITE_PARAMS = [
  PARAM('dryRun', 'When present, indicates that modifications should not be persisted.'),
  PARAM('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  PARAM('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.'),
];

function operation(t: ResourceType, version: string, action: string, params: JsonObject[], bodyTypes?: string[]): JsonObject {
  const op: JsonObject = {
    description: `${action} ${t.kind}`,
    operationId: `${action}${t.kind}`,
    parameters: params,
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: t.group, version, kind: t.kind },
  };
  if (bodyTypes) op['requestBody'] = { content: Object.fromEntries(bodyTypes.map((b) => [b, { schema: { type: 'object' } }])), required: true };
  return op;
}

function document(registry: Registry, group: string, version: string, serverVersion: string): JsonObject {
  const paths: JsonObject = {};
  const prefix = `/${gvPath(group, version)}`;
  for (const t of registry.all().filter((x) => x.group === group && x.versions.includes(version))) {
    const collection = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.plural}` : `${prefix}/${t.plural}`;
    // Strategic merge is deliberately not offered here: kubectl then computes
    // strategic patches for built-in kinds from its compiled-in types.
    const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
    paths[collection] = {
      get: operation(t, version, 'list', []),
      post: operation(t, version, 'post', COMMON_WRITE_PARAMS, ['application/json']),
    };
    const item: JsonObject = {
      get: operation(t, version, 'get', []),
      put: operation(t, version, 'put', COMMON_WRITE_PARAMS, ['application/json']),
      patch: operation(t, version, 'patch', [...COMMON_WRITE_PARAMS, PARAM('force', 'Force is going to "force" Apply requests.')], patchTypes),
      delete: operation(t, version, 'delete', [PARAM('dryRun', 'When present, indicates that modifications should not be persisted.')]),
    };
    paths[`${collection}/{name}`] = item;
    if (t.hasStatus) {
      paths[`${collection}/{name}/status`] = {
        get: operation(t, version, 'get', []),
        put: operation(t, version, 'put', COMMON_WRITE_PARAMS, ['application/json']),
        patch: operation(t, version, 'patch', COMMON_WRITE_PARAMS, patchTypes),
      };
    }
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: serverVersion },
    paths,
    components: { schemas: {} },
  };
}

function hashOf(doc: Json): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
}

/** Answer `/openapi/v3` or `/openapi/v3/<gv path>`, or undefined for anything else. */
export function openapiV3(path: string, registry: Registry, serverVersion: string): JsonObject | undefined {
  const gvs: [string, string][] = [];
  for (const [group, versions] of registry.groups()) for (const v of versions) gvs.push([group, v]);
  if (path === '/openapi/v3' || path === '/openapi/v3/') {
    const paths: JsonObject = {};
    for (const [g, v] of gvs) {
      const p = gvPath(g, v);
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hashOf(document(registry, g, v, serverVersion))}` };
    }
    return { paths };
  }
  const rest = path.replace(/^\/openapi\/v3\//, '');
  const found = gvs.find(([g, v]) => gvPath(g, v) === rest);
  return found ? document(registry, found[0], found[1], serverVersion) : undefined;
}
