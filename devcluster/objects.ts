/**
 * The generic object lifecycle of a real apiserver: create, get, list, update,
 * patch and delete with uid/creationTimestamp/generation bookkeeping, optimistic
 * concurrency, finalizers and the status subresource.
 */
import { randomUUID } from 'node:crypto';
import type { Json, JsonObject, KubeObject } from './types.js';
import { ApiError, clone, errors, isObject } from './types.js';
import type { ResourceType } from './resources.js';
import { typeKey } from './resources.js';
import type { Store } from './store.js';
import type { KindContext } from './kinds.js';
import { prepareWrite, releaseOnRemove } from './kinds.js';
import { applyPatch } from './patch.js';
import type { Selector } from './selectors.js';

export interface WriteOptions {
  dryRun?: boolean;
  subresource?: 'status';
}

const NAMESPACES_KEY = '/namespaces';
const RBAC_GROUP = 'rbac.authorization.k8s.io';
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUFFIX_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The object as served at one version of its type. */
export function atVersion(obj: KubeObject, t: ResourceType, version: string): KubeObject {
  const out = clone(obj);
  const rest = { ...out } as Record<string, unknown>;
  delete rest['apiVersion'];
  delete rest['kind'];
  return { apiVersion: t.group ? `${t.group}/${version}` : version, kind: t.kind, ...rest } as KubeObject;
}

/** Compare objects ignoring the given top-level fields. */
function sameExcept(a: KubeObject, b: KubeObject, skip: string[]): boolean {
  const strip = (o: KubeObject): string => {
    const c = { ...o } as Record<string, unknown>;
    for (const k of skip) delete c[k];
    delete c['apiVersion'];
    return stableJson(c);
  };
  return strip(a) === strip(b);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function withoutRv(o: KubeObject): unknown {
  const c = clone(o) as KubeObject;
  delete c.metadata.resourceVersion;
  delete c.metadata['managedFields'];
  delete c['apiVersion'];
  return c;
}

/** Like a round trip through Go's ObjectMeta: empty maps and lists (omitempty) disappear. */
function normalizeMeta(obj: KubeObject): void {
  const meta = obj.metadata;
  for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences', 'managedFields', 'generateName'] as const) {
    const v = meta[k];
    if (v === null || v === '' || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0)) delete meta[k];
  }
}

export class ObjectApi {
  constructor(
    private readonly store: Store,
    private readonly ctx: KindContext,
  ) {}

  get(t: ResourceType, ns: string | undefined, name: string): KubeObject {
    const obj = this.store.get(typeKey(t), t.namespaced ? ns : undefined, name);
    if (!obj) throw errors.notFound(t.group, t.plural, name);
    return obj;
  }

  list(t: ResourceType, ns: string | undefined, match: Selector): KubeObject[] {
    return this.store.list(typeKey(t), t.namespaced ? ns : undefined).filter(match);
  }

  private checkNamespace(t: ResourceType, ns: string | undefined, name: string): void {
    if (!t.namespaced) return;
    const nsObj = this.store.get(NAMESPACES_KEY, undefined, ns ?? '');
    if (!nsObj) throw errors.notFound('', 'namespaces', ns ?? '');
    if (nsObj.metadata.deletionTimestamp)
      throw errors.forbidden(`${t.plural} "${name}" is forbidden: unable to create new content in namespace ${ns ?? ''} because it is being terminated`);
  }

  private checkTypeMeta(t: ResourceType, body: KubeObject, version: string): void {
    const want = t.group ? `${t.group}/${version}` : version;
    if (body.kind !== undefined && body.kind !== t.kind)
      throw errors.badRequest(`the object provided is unrecognized (must be of type ${t.kind}): kind ${String(body.kind)}`);
    if (body.apiVersion !== undefined && body.apiVersion !== want && !(t.group && t.versions.some((v) => body.apiVersion === `${t.group}/${v}`)))
      throw errors.badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${want})`);
  }

  create(t: ResourceType, version: string, ns: string | undefined, input: KubeObject, opts: WriteOptions = {}): KubeObject {
    this.checkTypeMeta(t, input, version);
    const obj = clone(input);
    const meta = obj.metadata;
    if (t.namespaced) {
      if (meta.namespace && ns && meta.namespace !== ns)
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = ns ?? meta.namespace;
    } else delete meta.namespace;
    if (!meta.name && meta.generateName) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += SUFFIX_CHARS[Math.floor(Math.random() * SUFFIX_CHARS.length)];
      meta.name = `${meta.generateName}${suffix}`;
    }
    if (!meta.name) throw errors.invalid(t.group, t.kind, '', 'metadata.name: Required value: name or generateName is required');
    if (t.group === RBAC_GROUP) {
      // RBAC objects take any path segment name (`system:discovery`), as kube-apiserver's ValidatePathSegmentName.
      if (meta.name === '.' || meta.name === '..' || /[/%]/.test(meta.name))
        throw errors.invalid(t.group, t.kind, meta.name, `metadata.name: Invalid value: "${meta.name}": may not be '.' or '..' and may not contain '/' or '%'`);
    } else if (meta.name.length > 253 || !NAME_RE.test(meta.name))
      throw errors.invalid(
        t.group,
        t.kind,
        meta.name,
        `metadata.name: Invalid value: "${meta.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      );
    this.checkNamespace(t, meta.namespace, meta.name);
    const key = typeKey(t);
    if (this.store.get(key, meta.namespace, meta.name)) throw errors.alreadyExists(t.group, t.plural, meta.name);
    for (const k of ['resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields']) delete meta[k];
    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    if (!t.builtin || t.plural === 'customresourcedefinitions') meta.generation = 1;
    else delete meta.generation;
    obj.apiVersion = t.group ? `${t.group}/${t.version}` : t.version;
    obj.kind = t.kind;
    // A custom resource's status is only written through its status subresource.
    if (t.hasStatus && !t.builtin) delete obj['status'];
    prepareWrite(t, obj, undefined, this.ctx);
    normalizeMeta(obj);
    if (opts.dryRun) return atVersion(obj, t, version);
    return atVersion(this.store.put(key, obj), t, version);
  }

  update(t: ResourceType, version: string, ns: string | undefined, name: string, input: KubeObject, opts: WriteOptions = {}): KubeObject {
    this.checkTypeMeta(t, input, version);
    const old = this.get(t, ns, name);
    if (input.metadata.name && input.metadata.name !== name)
      throw errors.badRequest(`the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    const rv = input.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) throw errors.conflict(t.group, t.plural, name);
    if (!rv && !t.builtin)
      throw errors.invalid(t.group, t.kind, name, 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
    let obj: KubeObject;
    if (opts.subresource === 'status') {
      // The status subresource writes status only; metadata and spec stay.
      obj = clone(old);
      if (input['status'] === undefined) delete obj['status'];
      else obj['status'] = clone(input['status']);
    } else {
      obj = clone(input);
      if (t.hasStatus) {
        if (old['status'] === undefined) delete obj['status'];
        else obj['status'] = clone(old['status']);
      }
    }
    const meta = obj.metadata;
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'namespace'] as const) {
      if (old.metadata[k] === undefined) delete meta[k];
      else meta[k] = clone(old.metadata[k]) as never;
    }
    meta.name = name;
    meta.resourceVersion = old.metadata.resourceVersion;
    obj.apiVersion = old.apiVersion;
    obj.kind = t.kind;
    prepareWrite(t, obj, old, this.ctx);
    normalizeMeta(obj);
    if (old.metadata.generation !== undefined) {
      const skip = t.hasStatus ? ['metadata', 'status'] : ['metadata'];
      if (!sameExcept(obj, old, skip)) meta.generation = (old.metadata.generation ?? 0) + 1;
    }
    if (old.metadata.deletionTimestamp && (meta.finalizers ?? []).length === 0) {
      if (opts.dryRun) return atVersion(obj, t, version);
      return atVersion(this.removeNow(t, obj), t, version);
    }
    // A write that changes nothing keeps the resourceVersion, as a real apiserver does.
    if (stableJson(withoutRv(obj)) === stableJson(withoutRv(old)) || opts.dryRun) return atVersion(obj, t, version);
    return atVersion(this.store.put(typeKey(t), obj), t, version);
  }

  patch(
    t: ResourceType,
    version: string,
    ns: string | undefined,
    name: string,
    contentType: string,
    body: Json,
    opts: WriteOptions = {},
  ): KubeObject {
    const old = atVersion(this.get(t, ns, name), t, version);
    const patched = applyPatch(old, contentType, body, t);
    if (!isObject(patched) || !isObject(patched['metadata'])) throw errors.badRequest('the patched object is not a Kubernetes object');
    const obj = patched as unknown as KubeObject;
    if (!obj.metadata.resourceVersion) obj.metadata.resourceVersion = old.metadata.resourceVersion;
    return this.update(t, version, ns, name, obj, opts);
  }

  /** DELETE: removes the object, or marks it for deletion while finalizers remain. */
  delete(t: ResourceType, version: string, ns: string | undefined, name: string, options: JsonObject, opts: WriteOptions = {}): KubeObject {
    const old = this.get(t, ns, name);
    const pre = isObject(options['preconditions']) ? options['preconditions'] : {};
    if (typeof pre['uid'] === 'string' && pre['uid'] !== old.metadata.uid)
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre['uid']}, UID in object meta: ${old.metadata.uid ?? ''}`);
    if (typeof pre['resourceVersion'] === 'string' && pre['resourceVersion'] !== old.metadata.resourceVersion)
      throw errors.conflict(t.group, t.plural, name);
    if (old.metadata.deletionTimestamp) return atVersion(old, t, version);
    // Namespaces always pass through Terminating (spec.finalizers), like the namespace controller.
    const isNamespace = t.builtin && t.plural === 'namespaces';
    if ((old.metadata.finalizers ?? []).length > 0 || isNamespace) {
      const obj = clone(old);
      obj.metadata.deletionTimestamp = now();
      obj.metadata.deletionGracePeriodSeconds = 0;
      if (isNamespace) obj['status'] = { phase: 'Terminating' };
      if (opts.dryRun) return atVersion(obj, t, version);
      return atVersion(this.store.put(typeKey(t), obj), t, version);
    }
    if (opts.dryRun) return atVersion(old, t, version);
    return atVersion(this.removeNow(t, old), t, version);
  }

  /** Remove without further checks (finalizers are done). */
  removeNow(t: ResourceType, obj: KubeObject): KubeObject {
    const gone = this.store.remove(typeKey(t), obj) ?? obj;
    releaseOnRemove(t, gone, this.ctx);
    return gone;
  }
}
