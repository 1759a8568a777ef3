/**
 * The permissions the rendered manifests give a service account, one per verb of each
 * rule of each role bound to it — the unit the RBAC tests prove needed one at a time.
 */
import type { AuditRecord } from '../../devcluster/index.js';
import { ruleAllows, rulesOf, type PolicyRule } from '../../devcluster/rbac.js';
import type { KubeObject } from '../../devcluster/types.js';
import type { Manifest } from './manifests.js';

export interface Grant {
  /** `ClusterRole tower-proxy` / `Role kubesphere-system/tower-proxy` */
  readonly role: string;
  readonly kind: 'Role' | 'ClusterRole';
  readonly name: string;
  /** Where the rule applies: a Role's namespace; undefined = cluster-wide. */
  readonly namespace: string | undefined;
  readonly ruleIndex: number;
  readonly rule: PolicyRule;
  readonly verb: string;
}

interface Binding {
  roleRef: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

function binds(b: Binding, bindingNamespace: string | undefined, sa: { namespace: string; name: string }): boolean {
  return (b.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === sa.name && (s.namespace ?? bindingNamespace) === sa.namespace);
}

/** Every (rule, verb) granted to service account `sa` by the bindings among `objects`. */
export function grantsOf(objects: readonly Manifest[], sa: { namespace: string; name: string }): Grant[] {
  const out: Grant[] = [];
  for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const binding = b as unknown as Binding & Manifest;
    if (!binds(binding, b.metadata.namespace, sa)) continue;
    const kind = binding.roleRef.kind as 'Role' | 'ClusterRole';
    const namespace = b.kind === 'RoleBinding' ? b.metadata.namespace : undefined;
    const role = objects.find((o) => o.kind === kind && o.metadata.name === binding.roleRef.name && (kind === 'ClusterRole' || o.metadata.namespace === namespace));
    if (!role) throw new Error(`${b.kind} ${b.metadata.name} refers to ${kind} ${binding.roleRef.name}, which the manifests do not define`);
    rulesOf(role as unknown as KubeObject).forEach((rule, ruleIndex) => {
      for (const verb of rule.verbs) {
        out.push({ role: `${kind} ${namespace ? `${namespace}/` : ''}${role.metadata.name}`, kind, name: role.metadata.name, namespace, ruleIndex, rule, verb });
      }
    });
  }
  return out;
}

/** Is this request one that `grant` (that verb of that rule, where it applies) covers? */
export function covers(grant: Grant, record: AuditRecord): boolean {
  const a = record.attributes;
  if (grant.namespace !== undefined && (!a.resourceRequest || a.namespace !== grant.namespace)) return false;
  return ruleAllows({ ...grant.rule, verbs: [grant.verb] }, a);
}

/** A copy of `objects` without `grant` (its verb taken from its rule; the rule dropped when no verb is left). */
export function withoutGrant(objects: readonly Manifest[], grant: Grant): Manifest[] {
  const copy = structuredClone(objects) as Manifest[];
  const role = copy.find((o) => o.kind === grant.kind && o.metadata.name === grant.name && (grant.kind === 'ClusterRole' || o.metadata.namespace === grant.namespace));
  const rules = role?.['rules'] as Array<{ verbs: string[] }> | undefined;
  const rule = rules?.[grant.ruleIndex];
  if (!rules || !rule) throw new Error(`no rule ${grant.ruleIndex} in ${grant.role}`);
  rule.verbs = rule.verbs.filter((v) => v !== grant.verb);
  if (rule.verbs.length === 0) rules.splice(grant.ruleIndex, 1);
  return copy;
}

export function describeGrant(g: Grant): string {
  const what = g.rule.nonResourceURLs.length ? g.rule.nonResourceURLs.join(',') : `${g.rule.resources.join(',')}${g.rule.apiGroups.some((x) => x) ? `.${g.rule.apiGroups.join(',')}` : ''}`;
  const names = g.rule.resourceNames.length ? ` named ${g.rule.resourceNames.join(',')}` : '';
  return `${g.verb} ${what}${names} (${g.role})`;
}
