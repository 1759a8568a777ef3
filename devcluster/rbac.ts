/**
 * RBAC authorization as kube-apiserver's RBAC authorizer does it, read live from the
 * stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings: a request is allowed
 * when some binding whose subjects include the user (by name, group or service account)
 * refers to a role with a rule matching its verb, API group, resource/subresource, name
 * and namespace — or its path for non-resource requests. Members of `system:masters`
 * are allowed everything before RBAC is asked, as kube-apiserver's privileged group is.
 * Not done: ClusterRole aggregation, and the escalation check on role writes.
 */
import type { JsonObject, KubeObject } from './types.js';
import { isObject } from './types.js';
import type { Store } from './store.js';
import type { RequestAttributes } from './request-info.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const KEYS = {
  roles: `${RBAC_GROUP}/roles`,
  clusterRoles: `${RBAC_GROUP}/clusterroles`,
  roleBindings: `${RBAC_GROUP}/rolebindings`,
  clusterRoleBindings: `${RBAC_GROUP}/clusterrolebindings`,
};
export const PRIVILEGED_GROUP = 'system:masters';
const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

export interface UserInfo {
  readonly name: string;
  readonly groups: readonly string[];
  readonly uid?: string;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

export interface Decision {
  readonly allowed: boolean;
  /** For an allowed request, which binding allowed it (kube-apiserver's wording). */
  readonly reason: string;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

export function rulesOf(role: KubeObject | undefined): PolicyRule[] {
  const rules = role && Array.isArray(role['rules']) ? role['rules'].filter(isObject) : [];
  return rules.map((r) => ({
    verbs: strings(r['verbs']),
    apiGroups: strings(r['apiGroups']),
    resources: strings(r['resources']),
    resourceNames: strings(r['resourceNames']),
    nonResourceURLs: strings(r['nonResourceURLs']),
  }));
}

/** `system:serviceaccount:<ns>:<name>` → its namespace and name. */
export function splitServiceAccount(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SERVICE_ACCOUNT_PREFIX)) return undefined;
  const [namespace, name, ...rest] = user.slice(SERVICE_ACCOUNT_PREFIX.length).split(':');
  return namespace && name && rest.length === 0 ? { namespace, name } : undefined;
}

export function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`];
}

/** Does one subject of a binding (in `bindingNamespace`) name this user? */
function subjectMatches(subject: JsonObject, user: UserInfo, bindingNamespace: string): boolean {
  const kind = subject['kind'];
  const name = subject['name'];
  if (typeof name !== 'string') return false;
  if (kind === 'User') return name === user.name;
  if (kind === 'Group') return user.groups.includes(name);
  if (kind === 'ServiceAccount') {
    const ns = typeof subject['namespace'] === 'string' && subject['namespace'] ? subject['namespace'] : bindingNamespace;
    return user.name === `${SERVICE_ACCOUNT_PREFIX}${ns}:${name}`;
  }
  return false;
}

function describeSubject(subject: JsonObject, bindingNamespace: string): string {
  const kind = String(subject['kind'] ?? '');
  const name = String(subject['name'] ?? '');
  if (kind === 'ServiceAccount') return `ServiceAccount "${name}/${String(subject['namespace'] || bindingNamespace)}"`;
  return `${kind} "${name}"`;
}

function has(list: string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return rule.resources.some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

function nonResourceUrlMatches(rule: PolicyRule, path: string): boolean {
  return rule.nonResourceURLs.some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
}

export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) return nonResourceUrlMatches(rule, a.path);
  return (
    has(rule.apiGroups, a.apiGroup) &&
    resourceMatches(rule, a.resource, a.subresource) &&
    (rule.resourceNames.length === 0 || rule.resourceNames.includes(a.name))
  );
}

interface Grant {
  readonly rules: PolicyRule[];
  /** Resource rules of a RoleBinding apply in its namespace only; undefined = cluster-wide. */
  readonly namespace: string | undefined;
  readonly describe: () => string;
}

export class RbacAuthorizer {
  constructor(private readonly store: Store) {}

  authorize(user: UserInfo, a: RequestAttributes): Decision {
    if (user.groups.includes(PRIVILEGED_GROUP)) return { allowed: true, reason: '' };
    for (const grant of this.grants(user, a.resourceRequest ? a.namespace : '')) {
      if (grant.namespace !== undefined && (!a.resourceRequest || a.namespace !== grant.namespace)) continue;
      if (grant.rules.some((r) => ruleAllows(r, a))) return { allowed: true, reason: `RBAC: allowed by ${grant.describe()}` };
    }
    return { allowed: false, reason: '' };
  }

  /** The rules that apply to `user` in `namespace` (cluster-wide ones included), for SelfSubjectRulesReview. */
  rulesFor(user: UserInfo, namespace: string): PolicyRule[] {
    if (user.groups.includes(PRIVILEGED_GROUP)) {
      return [
        { verbs: ['*'], apiGroups: ['*'], resources: ['*'], resourceNames: [], nonResourceURLs: [] },
        { verbs: ['*'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['*'] },
      ];
    }
    return this.grants(user, namespace).flatMap((g) => (g.namespace === undefined ? g.rules : g.rules.filter((r) => r.nonResourceURLs.length === 0)));
  }

  /** ClusterRoleBindings, then the RoleBindings of `namespace`, that name this user. */
  private grants(user: UserInfo, namespace: string): Grant[] {
    const out: Grant[] = [];
    for (const binding of this.store.list(KEYS.clusterRoleBindings)) {
      const subject = this.matchingSubject(binding, user, '');
      const ref = roleRef(binding);
      if (!subject || ref?.kind !== 'ClusterRole') continue;
      const name = binding.metadata.name ?? '';
      out.push({
        rules: rulesOf(this.store.get(KEYS.clusterRoles, undefined, ref.name)),
        namespace: undefined,
        describe: () => `ClusterRoleBinding "${name}" of ClusterRole "${ref.name}" to ${describeSubject(subject, '')}`,
      });
    }
    if (!namespace) return out;
    for (const binding of this.store.list(KEYS.roleBindings, namespace)) {
      const subject = this.matchingSubject(binding, user, namespace);
      const ref = roleRef(binding);
      if (!subject || !ref) continue;
      const role = ref.kind === 'ClusterRole' ? this.store.get(KEYS.clusterRoles, undefined, ref.name) : this.store.get(KEYS.roles, namespace, ref.name);
      const name = binding.metadata.name ?? '';
      out.push({
        rules: rulesOf(role).filter((r) => r.nonResourceURLs.length === 0),
        namespace,
        describe: () => `RoleBinding "${name}/${namespace}" of ${ref.kind} "${ref.name}" to ${describeSubject(subject, namespace)}`,
      });
    }
    return out;
  }

  private matchingSubject(binding: KubeObject, user: UserInfo, namespace: string): JsonObject | undefined {
    const subjects = Array.isArray(binding['subjects']) ? binding['subjects'].filter(isObject) : [];
    return subjects.find((s) => subjectMatches(s, user, namespace));
  }
}

function roleRef(binding: KubeObject): { kind: string; name: string } | undefined {
  const ref = binding['roleRef'];
  if (!isObject(ref) || typeof ref['name'] !== 'string' || (ref['kind'] !== 'Role' && ref['kind'] !== 'ClusterRole')) return undefined;
  return { kind: ref['kind'], name: ref['name'] };
}
