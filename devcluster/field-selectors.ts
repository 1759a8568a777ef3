/**
 * The field selectors a real apiserver supports per kind beyond `metadata.name` and
 * `metadata.namespace` (the registries' GetAttrs), so that e.g. `kubectl describe node`
 * (pods with `spec.nodeName=…`, events with `involvedObject.…`) works.
 */
import type { KubeObject } from './types.js';
import { isObject } from './types.js';
import type { ResourceType } from './resources.js';

export type FieldGetter = (o: KubeObject) => string;

/** `a.b.c` of an object, as the string a field selector compares (absent: ""). */
function path(...keys: string[]): FieldGetter {
  return (o) => {
    let value: unknown = o;
    for (const key of keys) value = isObject(value) ? value[key] : undefined;
    return value === undefined || value === null ? '' : String(value);
  };
}

const BY_TYPE: Record<string, Record<string, FieldGetter>> = {
  '/pods': {
    'spec.nodeName': path('spec', 'nodeName'),
    'spec.restartPolicy': path('spec', 'restartPolicy'),
    'spec.schedulerName': path('spec', 'schedulerName'),
    'spec.serviceAccountName': path('spec', 'serviceAccountName'),
    'spec.hostNetwork': (o) => (path('spec', 'hostNetwork')(o) === 'true' ? 'true' : 'false'),
    'status.phase': (o) => path('status', 'phase')(o) || 'Pending',
    'status.podIP': path('status', 'podIP'),
    'status.nominatedNodeName': path('status', 'nominatedNodeName'),
  },
  '/events': {
    'involvedObject.kind': path('involvedObject', 'kind'),
    'involvedObject.namespace': path('involvedObject', 'namespace'),
    'involvedObject.name': path('involvedObject', 'name'),
    'involvedObject.uid': path('involvedObject', 'uid'),
    'involvedObject.apiVersion': path('involvedObject', 'apiVersion'),
    'involvedObject.resourceVersion': path('involvedObject', 'resourceVersion'),
    'involvedObject.fieldPath': path('involvedObject', 'fieldPath'),
    reason: path('reason'),
    reportingComponent: path('reportingComponent'),
    source: path('source', 'component'),
    type: path('type'),
  },
  '/secrets': { type: path('type') },
  '/namespaces': { 'status.phase': path('status', 'phase') },
  '/nodes': { 'spec.unschedulable': (o) => (path('spec', 'unschedulable')(o) === 'true' ? 'true' : 'false') },
  '/services': { 'spec.clusterIP': path('spec', 'clusterIP'), 'spec.type': path('spec', 'type') },
};

/** The extra field selectors of `type` (none for most kinds and every custom resource). */
export function fieldGetters(type: ResourceType): Readonly<Record<string, FieldGetter>> {
  return type.builtin ? (BY_TYPE[`${type.group}/${type.plural}`] ?? {}) : {};
}
