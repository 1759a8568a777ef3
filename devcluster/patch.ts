/**
 * The patch types a real apiserver takes: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902), strategic merge patch for built-in kinds (list merge keys as in
 * k8s.io/api), and server-side apply approximated as a merge (no field ownership).
 */
import type { Json, JsonObject } from './types.js';
import { ApiError, clone, errors, isObject } from './types.js';
import type { ResourceType } from './resources.js';

export const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- RFC 6902 ----

function unprocessable(message: string): ApiError {
  return new ApiError(422, 'Invalid', message);
}

function parsePointer(p: unknown): string[] {
  if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw errors.badRequest(`invalid JSON pointer: ${JSON.stringify(p)}`);
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, path: string[]): { parent: Json; key: string } {
  let cur: Json = doc;
  for (const seg of path.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(seg)] : isObject(cur) ? cur[seg] : undefined;
    if (next === undefined) throw unprocessable(`jsonpatch: path /${path.join('/')} does not exist`);
    cur = next;
  }
  return { parent: cur, key: path[path.length - 1] ?? '' };
}

function getAt(doc: Json, path: string[]): Json {
  if (path.length === 0) return doc;
  const { parent, key } = parentOf(doc, path);
  const v = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
  if (v === undefined) throw unprocessable(`jsonpatch: path /${path.join('/')} does not exist`);
  return v;
}

function arrayIndex(arr: Json[], key: string, forAdd: boolean): number {
  if (forAdd && key === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw unprocessable(`jsonpatch: invalid array index ${key}`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i === arr.length)) throw unprocessable(`jsonpatch: array index ${key} out of bounds`);
  return i;
}

function addAt(doc: Json, path: string[], value: Json): Json {
  if (path.length === 0) return value;
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else if (isObject(parent)) parent[key] = value;
  else throw unprocessable(`jsonpatch: cannot add to /${path.join('/')}`);
  return doc;
}

function removeAt(doc: Json, path: string[]): Json {
  if (path.length === 0) throw unprocessable('jsonpatch: cannot remove the whole document');
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false), 1);
  else if (isObject(parent) && parent[key] !== undefined) delete parent[key];
  else throw unprocessable(`jsonpatch: path /${path.join('/')} does not exist`);
  return doc;
}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw errors.badRequest('json patch must be an array of operations');
  let doc = clone(target);
  for (const op of ops) {
    if (!isObject(op)) throw errors.badRequest('json patch operation must be an object');
    const path = parsePointer(op['path']);
    switch (op['op']) {
      case 'add':
        doc = addAt(doc, path, clone(op['value'] ?? null));
        break;
      case 'remove':
        doc = removeAt(doc, path);
        break;
      case 'replace':
        getAt(doc, path);
        doc = path.length === 0 ? clone(op['value'] ?? null) : addAt(removeAt(doc, path), path, clone(op['value'] ?? null));
        break;
      case 'move': {
        const from = parsePointer(op['from']);
        const v = getAt(doc, from);
        doc = addAt(removeAt(doc, from), path, v);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, clone(getAt(doc, parsePointer(op['from']))));
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(op['value'] ?? null))
          throw unprocessable(`jsonpatch: test operation for path /${path.join('/')} failed`);
        break;
      default:
        throw errors.badRequest(`unexpected json patch operation ${JSON.stringify(op['op'] ?? null)}`);
    }
  }
  return doc;
}

// ---- strategic merge patch ----

/** patchMergeKey of the object lists of built-in kinds, by field name (and parent for `ports`). */
function mergeKeyFor(field: string, parent: string | undefined, kind: string): string | undefined {
  switch (field) {
    case 'ports':
      return kind === 'Service' && parent === 'spec' ? 'port' : 'containerPort';
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
    case 'secrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'conditions':
    case 'addresses':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'taints':
      return 'key';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'hostAliases':
      return 'ip';
    default:
      return undefined;
  }
}

/** Primitive lists whose patch strategy is merge (union) rather than replace. */
const PRIMITIVE_MERGE = new Set(['finalizers']);

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$') && x !== undefined) out[k] = stripDirectives(x);
  return out;
}

function mergeObjectList(original: Json | undefined, patch: Json[], key: string, kind: string, field: string): Json[] {
  const out: Json[] = Array.isArray(original) ? clone(original) : [];
  for (const item of patch) {
    if (!isObject(item)) {
      out.push(item);
      continue;
    }
    if (item['$patch'] === 'replace') return patch.filter((i) => !(isObject(i) && i['$patch'] === 'replace')).map(stripDirectives);
    const at = out.findIndex((o) => isObject(o) && JSON.stringify(o[key]) === JSON.stringify(item[key]));
    if (item['$patch'] === 'delete') {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) out[at] = strategicMerge(out[at], item, kind, field) ?? null;
    else out.push(stripDirectives(item));
  }
  return out;
}

function reorder(list: Json[], order: Json[], key: string | undefined): Json[] {
  const idOf = (v: Json): string => JSON.stringify(key && isObject(v) ? v[key] : v);
  const rank = new Map(order.map((o, i) => [idOf(o), i]));
  return list
    .map((v, i) => ({ v, i, r: rank.get(idOf(v)) }))
    .sort((a, b) => (a.r ?? Number.MAX_SAFE_INTEGER) - (b.r ?? Number.MAX_SAFE_INTEGER) || a.i - b.i)
    .map((x) => x.v);
}

export function strategicMerge(original: Json | undefined, patch: Json, kind: string, parent?: string): Json | undefined {
  if (!isObject(patch)) return clone(patch);
  if (patch['$patch'] === 'replace') return stripDirectives(patch);
  if (patch['$patch'] === 'delete') return undefined;
  const out: JsonObject = isObject(original) ? clone(original) : {};
  const orders: [string, Json[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders.push([k.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v)) out[field] = cur.filter((x) => !v.some((d) => JSON.stringify(d) === JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    if (Array.isArray(v)) {
      const key = v.some(isObject) || (Array.isArray(out[k]) && (out[k] as Json[]).some(isObject)) ? mergeKeyFor(k, parent, kind) : undefined;
      if (key) out[k] = mergeObjectList(out[k], v, key, kind, k);
      else if (PRIMITIVE_MERGE.has(k) && parent === 'metadata') {
        const cur = Array.isArray(out[k]) ? (out[k] as Json[]) : [];
        out[k] = [...cur, ...v.filter((x) => !cur.some((c) => JSON.stringify(c) === JSON.stringify(x)))];
      } else out[k] = stripDirectives(v);
      continue;
    }
    const merged = strategicMerge(out[k], v, kind, k);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  const retain = patch['$retainKeys'];
  if (Array.isArray(retain)) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  for (const [field, order] of orders) {
    const cur = out[field];
    if (Array.isArray(cur)) out[field] = reorder(cur, order, mergeKeyFor(field, parent, kind));
  }
  return out;
}

/** Apply a PATCH body of the given Content-Type to an object. */
export function applyPatch(original: JsonObject, contentType: string, body: Json, t: ResourceType): Json {
  switch (contentType) {
    case PATCH_TYPES.merge:
      return mergePatch(original, body);
    case PATCH_TYPES.json:
      return jsonPatch(original, body);
    case PATCH_TYPES.strategic:
      if (!t.builtin)
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
      return strategicMerge(original, body, t.kind) ?? {};
    case PATCH_TYPES.apply:
      // Server-side apply without field ownership: the applied fields win, nothing else changes.
      return mergePatch(original, body);
    default:
      throw errors.unsupportedMediaType(contentType);
  }
}
