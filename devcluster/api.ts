/**
 * REST handling of resource paths: `/api/v1/...` and `/apis/<group>/<version>/...`,
 * namespaced or not, with the `status` subresource; verbs get, list, watch,
 * create, update, patch, delete and deletecollection; content negotiation for
 * Tables and PartialObjectMetadata; JSON, YAML (apply) and protobuf bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import YAML from 'yaml';
import type { Json, JsonObject, KubeObject } from './types.js';
import { ApiError, errors, isObject } from './types.js';
import type { Registry, ResourceType } from './resources.js';
import { typeKey } from './resources.js';
import type { ObjectApi, WriteOptions } from './objects.js';
import { atVersion } from './objects.js';
import type { Store } from './store.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { fieldGetters } from './field-selectors.js';
import type { Selector } from './selectors.js';
import { toTable } from './tables.js';
import type { IncludeObject } from './tables.js';
import { WatchStream } from './watch.js';
import { sendJson } from './http.js';
import { PATCH_TYPES } from './patch.js';
import { decodeProtobuf, PROTOBUF_CONTENT_TYPE } from './protobuf.js';

export interface ResourcePath {
  type: ResourceType;
  version: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  /** the legacy `/watch/` path prefix was used */
  watchPrefix: boolean;
}

/** Parse a resource URL path, or undefined if it names no known resource type. */
export function parseResourcePath(path: string, registry: Registry): ResourcePath | undefined {
  let segs: string[];
  try {
    segs = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) {
    group = '';
    version = segs[1] as string;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1] as string;
    version = segs[2] as string;
    rest = segs.slice(3);
  } else return undefined;
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const inner = registry.find(group, version, rest[2] as string);
    if (inner?.namespaced) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
  }
  const [plural, name, subresource, ...extra] = rest;
  if (!plural || extra.length > 0) return undefined;
  const type = registry.find(group, version, plural);
  if (!type) return undefined;
  if (namespace === undefined && type.namespaced && name !== undefined) return undefined;
  return { type, version, namespace, name, subresource, watchPrefix };
}

export interface ApiDeps {
  registry: Registry;
  objects: ObjectApi;
  store: Store;
  bookmarkIntervalMs: number;
  watches: Set<WatchStream>;
}

type Negotiated = { as: 'object' } | { as: 'Table'; include: IncludeObject } | { as: 'PartialObjectMetadata' };

function negotiate(accept: string, query: URLSearchParams): Negotiated {
  const parts = accept.split(',').map((p) => p.replace(/\s+/g, ''));
  let plainOk = accept === '';
  for (const p of parts) {
    if (p.includes('as=Table')) {
      const inc = query.get('includeObject');
      return { as: 'Table', include: inc === 'None' || inc === 'Object' ? inc : 'Metadata' };
    }
    if (p.includes('as=PartialObjectMetadata')) return { as: 'PartialObjectMetadata' };
    if (!p.includes('as=')) plainOk = true;
  }
  if (!plainOk) throw errors.notAcceptable();
  return { as: 'object' };
}

function partial(o: KubeObject): JsonObject {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata as JsonObject };
}

function parseJson(buf: Buffer): Json {
  try {
    return JSON.parse(buf.toString('utf8')) as Json;
  } catch (e) {
    throw errors.badRequest(`json parse error: ${(e as Error).message}`);
  }
}

function parseYaml(buf: Buffer): Json {
  try {
    return YAML.parse(buf.toString('utf8')) as Json;
  } catch (e) {
    throw errors.badRequest(`yaml parse error: ${(e as Error).message}`);
  }
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** A request body as a Kubernetes object (JSON, YAML or protobuf). */
export function readObject(req: IncomingMessage, buf: Buffer): KubeObject {
  const type = mediaType(req);
  let body: Json;
  if (type === PROTOBUF_CONTENT_TYPE) body = decodeProtobuf(buf);
  else if (type === 'application/yaml' || type === 'application/x-yaml') body = parseYaml(buf);
  else if (type === 'application/json' || type === '') body = parseJson(buf);
  else throw errors.unsupportedMediaType(type);
  if (!isObject(body)) throw errors.badRequest('the request body must be a JSON object');
  if (body['metadata'] === undefined || body['metadata'] === null) body['metadata'] = {};
  if (!isObject(body['metadata'])) throw errors.badRequest('metadata must be an object');
  const meta = body['metadata'];
  for (const k of ['labels', 'annotations'])
    if (meta[k] !== undefined && meta[k] !== null && (!isObject(meta[k]) || Object.values(meta[k] as JsonObject).some((v) => typeof v !== 'string')))
      throw errors.badRequest(`metadata.${k} must be a map of strings`);
  if (meta['finalizers'] !== undefined && meta['finalizers'] !== null && (!Array.isArray(meta['finalizers']) || meta['finalizers'].some((f) => typeof f !== 'string')))
    throw errors.badRequest('metadata.finalizers must be a list of strings');
  return body as unknown as KubeObject;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw errors.badRequest(`invalid ${name}: ${v}`);
  return n;
}

export class ResourceApi {
  constructor(private readonly deps: ApiDeps) {}

  /** `body` is the whole request body, already read (and size-checked) by the server. */
  handle(req: IncomingMessage, res: ServerResponse, p: ResourcePath, query: URLSearchParams, body: Buffer): void {
    const method = req.method ?? 'GET';
    const { type } = p;
    if (p.subresource !== undefined && !(p.subresource === 'status' && type.hasStatus)) throw errors.pathNotFound();
    if (p.subresource !== undefined && p.name === undefined) throw errors.pathNotFound();
    const opts: WriteOptions = { dryRun: query.getAll('dryRun').includes('All'), ...(p.subresource === 'status' ? { subresource: 'status' as const } : {}) };
    const isWatch = p.watchPrefix || query.get('watch') === 'true' || query.get('watch') === '1';
    if (method === 'GET' && isWatch) return this.watch(req, res, p, query);
    if (p.name === undefined) {
      switch (method) {
        case 'GET':
          return this.list(req, res, p, query);
        case 'POST': {
          const created = this.deps.objects.create(type, p.version, p.namespace, readObject(req, body), opts);
          return this.reply(req, res, p, query, 201, created);
        }
        case 'DELETE':
          return this.deleteCollection(res, p, query, opts);
        default:
          throw errors.methodNotAllowed(method);
      }
    }
    const name = p.name;
    switch (method) {
      case 'GET':
        return this.reply(req, res, p, query, 200, atVersion(this.deps.objects.get(type, p.namespace, name), type, p.version));
      case 'PUT': {
        return this.reply(req, res, p, query, 200, this.deps.objects.update(type, p.version, p.namespace, name, readObject(req, body), opts));
      }
      case 'PATCH':
        return this.patch(req, res, p, query, name, body, opts);
      case 'DELETE': {
        const options = body.length ? parseJson(body) : {};
        if (!isObject(options)) throw errors.badRequest('DeleteOptions must be an object');
        return this.reply(req, res, p, query, 200, this.deps.objects.delete(type, p.version, p.namespace, name, options, opts));
      }
      default:
        throw errors.methodNotAllowed(method);
    }
  }

  private patch(req: IncomingMessage, res: ServerResponse, p: ResourcePath, query: URLSearchParams, name: string, buf: Buffer, opts: WriteOptions): void {
    const ct = mediaType(req);
    if (!(Object.values(PATCH_TYPES) as string[]).includes(ct)) throw errors.unsupportedMediaType(ct);
    const body = ct === PATCH_TYPES.apply ? parseYaml(buf) : parseJson(buf);
    const { type, namespace, version } = p;
    if (ct === PATCH_TYPES.apply && p.subresource === undefined) {
      // Server-side apply creates what does not exist yet.
      try {
        this.deps.objects.get(type, namespace, name);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404) || !isObject(body)) throw e;
        const obj = { ...body, metadata: { ...(isObject(body['metadata']) ? body['metadata'] : {}), name } } as unknown as KubeObject;
        return this.reply(req, res, p, query, 201, this.deps.objects.create(type, version, namespace, obj, opts));
      }
    }
    return this.reply(req, res, p, query, 200, this.deps.objects.patch(type, version, namespace, name, ct, body, opts));
  }

  /** Send one object, as a Table or PartialObjectMetadata if asked. */
  private reply(req: IncomingMessage, res: ServerResponse, p: ResourcePath, query: URLSearchParams, code: number, obj: KubeObject): void {
    const n = negotiate(req.headers.accept ?? '', query);
    if (n.as === 'Table') return sendJson(res, code, toTable(p.type, p.version, [obj], obj.metadata.resourceVersion ?? '', n.include));
    if (n.as === 'PartialObjectMetadata') return sendJson(res, code, partial(obj));
    sendJson(res, code, obj as unknown as Json);
  }

  private selector(query: URLSearchParams, type: ResourceType): Selector {
    const labels = parseLabelSelector(query.get('labelSelector'));
    const fields = parseFieldSelector(query.get('fieldSelector'), fieldGetters(type));
    return (o) => labels(o) && fields(o);
  }

  private list(req: IncomingMessage, res: ServerResponse, p: ResourcePath, query: URLSearchParams): void {
    const { type, version } = p;
    const n = negotiate(req.headers.accept ?? '', query);
    const items = this.deps.objects.list(type, p.namespace, this.selector(query, type)).map((o) => atVersion(o, type, version));
    const rv = String(this.deps.store.currentRv());
    if (n.as === 'Table') return sendJson(res, 200, toTable(type, version, items, rv, n.include));
    if (n.as === 'PartialObjectMetadata')
      return sendJson(res, 200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: rv }, items: items.map(partial) });
    // Typed lists of built-in kinds carry no TypeMeta on their items; unstructured ones do.
    const out = type.builtin
      ? items.map((o) => {
          const { apiVersion: _a, kind: _k, ...rest } = o;
          return rest as unknown as Json;
        })
      : (items as unknown as Json[]);
    sendJson(res, 200, {
      kind: type.listKind,
      apiVersion: type.group ? `${type.group}/${version}` : version,
      metadata: { resourceVersion: rv },
      items: out,
    });
  }

  private deleteCollection(res: ServerResponse, p: ResourcePath, query: URLSearchParams, opts: WriteOptions): void {
    const { type, version } = p;
    const match = this.selector(query, type);
    const items = this.deps.objects.list(type, p.namespace, match);
    const deleted = items.map((o) => this.deps.objects.delete(type, version, o.metadata.namespace, o.metadata.name ?? '', {}, opts));
    sendJson(res, 200, {
      kind: type.listKind,
      apiVersion: type.group ? `${type.group}/${version}` : version,
      metadata: { resourceVersion: String(this.deps.store.currentRv()) },
      items: deleted as unknown as Json[],
    });
  }

  private watch(req: IncomingMessage, res: ServerResponse, p: ResourcePath, query: URLSearchParams): void {
    const { type, version } = p;
    const n = negotiate(req.headers.accept ?? '', query);
    let match = this.selector(query, type);
    if (p.name !== undefined) {
      const only = p.name;
      const base = match;
      match = (o) => o.metadata.name === only && base(o);
    }
    const render = (o: KubeObject): Json => {
      const v = atVersion(o, type, version);
      if (n.as === 'Table') return toTable(type, version, [v], v.metadata.resourceVersion ?? '', n.include);
      if (n.as === 'PartialObjectMetadata') return partial(v);
      return v as unknown as Json;
    };
    const resourceVersion = query.get('resourceVersion') ?? undefined;
    WatchStream.parseRv(resourceVersion); // a malformed one is a 400 before the stream starts
    const apiVersion = type.group ? `${type.group}/${version}` : version;
    const bookmarkKind = n.as === 'object' ? type.kind : n.as;
    const stream = new WatchStream(
      res,
      this.deps.store,
      {
        key: typeKey(type),
        namespace: type.namespaced ? p.namespace : undefined,
        match,
        resourceVersion,
        sendInitialEvents: query.get('sendInitialEvents') === 'true',
        allowBookmarks: query.get('allowWatchBookmarks') === 'true',
        bookmarkIntervalMs: this.deps.bookmarkIntervalMs,
        timeoutSeconds: intParam(query, 'timeoutSeconds'),
        render,
        bookmark: (rv, end) => ({
          kind: bookmarkKind,
          apiVersion: n.as === 'object' ? apiVersion : 'meta.k8s.io/v1',
          metadata: { resourceVersion: rv, ...(end ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}) },
        }),
      },
      (w) => this.deps.watches.delete(w),
    );
    this.deps.watches.add(stream);
    stream.start();
  }
}
