/**
 * What a request asks to do, as kube-apiserver's RequestInfoFactory reads it from the
 * method and URL alone (no registry): verb, API group and version, resource,
 * subresource, namespace and name for resource requests; verb and path otherwise.
 * Authorization, audit records and 403 messages are all written from this.
 */
import { ApiError, qualifiedResource } from './types.js';

export interface ResourceAttributes {
  readonly resourceRequest: true;
  readonly verb: string;
  readonly apiGroup: string;
  readonly apiVersion: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  readonly path: string;
}

export interface NonResourceAttributes {
  readonly resourceRequest: false;
  readonly verb: string;
  readonly path: string;
}

export type RequestAttributes = ResourceAttributes | NonResourceAttributes;

const METHOD_VERBS: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
/** Subresources of a namespace that stay on the namespace itself (`/namespaces/x/status`). */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function nonResource(method: string, path: string): NonResourceAttributes {
  return { resourceRequest: false, verb: method.toLowerCase(), path };
}

/** `metadata.name=x` (or `==`) as the only field selector term names one object. */
function exactName(fieldSelector: string | null): string | undefined {
  if (!fieldSelector) return undefined;
  const terms = fieldSelector.split(',').filter((t) => t.trim() !== '');
  if (terms.length !== 1) return undefined;
  const m = /^\s*metadata\.name\s*==?\s*([a-z0-9.-]+)\s*$/.exec(terms[0] as string);
  return m?.[1];
}

export function requestAttributes(method: string, path: string, query: URLSearchParams): RequestAttributes {
  let parts: string[];
  try {
    parts = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return nonResource(method, path);
  }
  const prefix = parts[0];
  // /api and /apis themselves, /apis/<group> and /apis/<group>/<version> are discovery: non-resource.
  if ((prefix !== 'api' && prefix !== 'apis') || parts.length < (prefix === 'api' ? 3 : 4)) return nonResource(method, path);
  parts = parts.slice(1);
  let apiGroup = '';
  if (prefix === 'apis') {
    apiGroup = parts[0] as string;
    parts = parts.slice(1);
  }
  const apiVersion = parts[0] as string;
  parts = parts.slice(1);
  let verb = METHOD_VERBS[method] ?? method.toLowerCase();
  if (parts[0] === 'watch' || parts[0] === 'proxy') {
    verb = parts[0];
    parts = parts.slice(1);
  }
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1] as string;
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] as string)) parts = parts.slice(2);
  }
  const resource = parts[0] ?? '';
  let name = parts[1] ?? '';
  const subresource = parts[2] ?? '';
  if (name === '' && verb === 'get') {
    const watch = query.get('watch');
    verb = watch === 'true' || watch === '1' ? 'watch' : 'list';
    name = exactName(query.get('fieldSelector')) ?? '';
  }
  if (name === '' && verb === 'watch') name = exactName(query.get('fieldSelector')) ?? '';
  if (name === '' && verb === 'delete') verb = 'deletecollection';
  return { resourceRequest: true, verb, apiGroup, apiVersion, resource, subresource, namespace, name, path };
}

/** The text of a 403, exactly as kube-apiserver words it. */
export function forbiddenMessage(user: string, a: RequestAttributes, reason = ''): string {
  const suffix = reason ? `: ${reason}` : '';
  if (!a.resourceRequest) return `forbidden: User "${user}" cannot ${a.verb} path "${a.path}"${suffix}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const what = `${qualifiedResource(a.apiGroup, a.resource)}${a.name ? ` "${a.name}"` : ''}`;
  return `${what} is forbidden: User "${user}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}${suffix}`;
}

/** The 403 Status kube-apiserver answers, with its details. */
export function forbiddenError(user: string, a: RequestAttributes, reason = ''): ApiError {
  const details: Record<string, string> = {};
  if (a.resourceRequest) {
    if (a.name) details['name'] = a.name;
    if (a.apiGroup) details['group'] = a.apiGroup;
    details['kind'] = a.resource;
  }
  return new ApiError(403, 'Forbidden', forbiddenMessage(user, a, reason), details);
}
