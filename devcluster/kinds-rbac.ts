/**
 * What kube-apiserver's RBAC strategies check on write: a binding's roleRef names a Role
 * or ClusterRole of rbac.authorization.k8s.io (only a ClusterRole for a ClusterRoleBinding)
 * and can never change — to point a binding elsewhere it must be deleted and recreated.
 */
import type { KubeObject } from './types.js';
import { errors, isObject } from './types.js';
import { RBAC_GROUP } from './rbac.js';

export function prepareBinding(kind: 'RoleBinding' | 'ClusterRoleBinding', obj: KubeObject, old: KubeObject | undefined): void {
  const invalid = (message: string) => errors.invalid(RBAC_GROUP, kind, obj.metadata.name ?? '', message);
  const ref = obj['roleRef'];
  if (!isObject(ref)) throw invalid('roleRef: Required value');
  const allowed = kind === 'ClusterRoleBinding' ? ['ClusterRole'] : ['Role', 'ClusterRole'];
  if (typeof ref['kind'] !== 'string' || !allowed.includes(ref['kind']))
    throw invalid(`roleRef.kind: Unsupported value: "${String(ref['kind'] ?? '')}": supported values: ${allowed.map((k) => `"${k}"`).join(', ')}`);
  if (ref['apiGroup'] !== RBAC_GROUP) throw invalid(`roleRef.apiGroup: Unsupported value: "${String(ref['apiGroup'] ?? '')}": supported values: "${RBAC_GROUP}"`);
  if (typeof ref['name'] !== 'string' || !ref['name']) throw invalid('roleRef.name: Required value');
  const oldRef = old?.['roleRef'];
  if (isObject(oldRef) && (oldRef['kind'] !== ref['kind'] || oldRef['name'] !== ref['name']))
    throw invalid(`roleRef: Invalid value: {"apiGroup":"${RBAC_GROUP}","kind":"${ref['kind']}","name":"${ref['name']}"}: cannot change roleRef`);
}
