/**
 * User impersonation (`kubectl --as`, `--as-group`): the `Impersonate-User`,
 * `Impersonate-Group` and `Impersonate-Uid` headers, each allowed only when the real
 * user may `impersonate` that user, service account, group or uid — as kube-apiserver's
 * impersonation filter does before authorization of the request itself.
 */
import type { IncomingMessage } from 'node:http';
import type { User } from './auth.js';
import { errors } from './types.js';
import { forbiddenError, type ResourceAttributes } from './request-info.js';
import { serviceAccountGroups, splitServiceAccount, type Decision, type UserInfo } from './rbac.js';

type Authorize = (user: UserInfo, a: ResourceAttributes) => Decision;

function impersonateAttributes(resource: string, name: string, namespace = '', apiGroup = ''): ResourceAttributes {
  return { resourceRequest: true, verb: 'impersonate', apiGroup, apiVersion: '', resource, subresource: '', namespace, name, path: '' };
}

/** The user to act as: `user` itself without impersonation headers. Throws 400/403 as kube-apiserver does. */
export function impersonatedUser(req: IncomingMessage, user: User, authorize: Authorize): User {
  const h = req.headersDistinct;
  const asUser = h['impersonate-user']?.[0];
  const asGroups = h['impersonate-group'] ?? [];
  const asUid = h['impersonate-uid']?.[0];
  const extras = Object.keys(h).filter((k) => k.startsWith('impersonate-extra-'));
  if (asUser === undefined) {
    if (asGroups.length > 0 || asUid !== undefined || extras.length > 0)
      throw errors.badRequest('requested impersonation of groups, uid or extra without impersonating a user');
    return user;
  }
  const checks: ResourceAttributes[] = [];
  const sa = splitServiceAccount(asUser);
  checks.push(sa ? impersonateAttributes('serviceaccounts', sa.name, sa.namespace) : impersonateAttributes('users', asUser));
  for (const g of asGroups) checks.push(impersonateAttributes('groups', g));
  if (asUid !== undefined) checks.push(impersonateAttributes('uids', asUid, '', 'authentication.k8s.io'));
  for (const k of extras) checks.push(impersonateAttributes('userextras', h[k]?.[0] ?? '', '', 'authentication.k8s.io'));
  for (const a of checks) {
    if (!authorize(user, a).allowed) throw forbiddenError(user.name, a);
  }
  const groups = asGroups.length > 0 ? [...asGroups] : sa ? serviceAccountGroups(sa.namespace) : [];
  if (asUser !== 'system:anonymous' && !groups.includes('system:authenticated')) groups.push('system:authenticated');
  return { name: asUser, groups, ...(asUid !== undefined ? { uid: asUid } : {}) };
}
