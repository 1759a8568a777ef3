/**
 * The create-only APIs that answer questions instead of storing objects:
 * authorization.k8s.io (SubjectAccessReview, LocalSubjectAccessReview,
 * SelfSubjectAccessReview — `kubectl auth can-i` — and SelfSubjectRulesReview —
 * `kubectl auth can-i --list`), authentication.k8s.io (SelfSubjectReview — `kubectl auth
 * whoami` — and TokenReview), and the TokenRequest subresource of ServiceAccounts
 * (`kubectl create token`, the kubelet's projected tokens).
 */
import type { Json, JsonObject, KubeObject } from './types.js';
import { errors, isObject } from './types.js';
import type { User } from './auth.js';
import type { ResourceType } from './resources.js';
import type { RbacAuthorizer, PolicyRule, UserInfo } from './rbac.js';
import type { RequestAttributes } from './request-info.js';
import type { ServiceAccountTokens } from './sa-tokens.js';
import { DEFAULT_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS } from './sa-tokens.js';

export interface ReviewDeps {
  readonly authorizer: RbacAuthorizer;
  readonly tokens: ServiceAccountTokens;
  /** A bearer token's user, for TokenReview. */
  readonly authenticateToken: (token: string) => User | undefined;
  /** The live ServiceAccount, or a 404 ApiError. */
  readonly serviceAccount: (namespace: string, name: string) => KubeObject;
}

const str = (v: Json | undefined): string => (typeof v === 'string' ? v : '');

function specOf(body: KubeObject): JsonObject {
  return isObject(body['spec']) ? body['spec'] : {};
}

/** The attributes a SubjectAccessReview spec asks about. */
function reviewedAttributes(spec: JsonObject, kind: string): RequestAttributes {
  const r = spec['resourceAttributes'];
  const n = spec['nonResourceAttributes'];
  if (isObject(r) && isObject(n)) throw errors.invalid('authorization.k8s.io', kind, '', 'spec: Invalid value: cannot specify both resourceAttributes and nonResourceAttributes');
  if (isObject(r)) {
    return {
      resourceRequest: true,
      verb: str(r['verb']),
      apiGroup: str(r['group']),
      apiVersion: str(r['version']),
      resource: str(r['resource']),
      subresource: str(r['subresource']),
      namespace: str(r['namespace']),
      name: str(r['name']),
      path: '',
    };
  }
  if (isObject(n)) return { resourceRequest: false, verb: str(n['verb']), path: str(n['path']) };
  throw errors.invalid('authorization.k8s.io', kind, '', 'spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified');
}

function answer(body: KubeObject, status: JsonObject): JsonObject {
  const { metadata, ...rest } = body;
  return { ...rest, metadata: { ...(metadata as JsonObject), creationTimestamp: null }, status } as JsonObject;
}

function ruleJson(r: PolicyRule): JsonObject {
  const out: JsonObject = { verbs: r.verbs };
  if (r.nonResourceURLs.length > 0) return { ...out, nonResourceURLs: r.nonResourceURLs };
  out['apiGroups'] = r.apiGroups;
  out['resources'] = r.resources;
  if (r.resourceNames.length > 0) out['resourceNames'] = r.resourceNames;
  return out;
}

function userInfoJson(u: UserInfo): JsonObject {
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: [...u.groups] };
}

export class Reviews {
  constructor(private readonly deps: ReviewDeps) {}

  /** Does this path name one of these APIs? (Anything else goes to the object store.) */
  static handles(type: ResourceType, subresource: string | undefined): boolean {
    return type.createOnly === true || (type.group === '' && type.plural === 'serviceaccounts' && subresource === 'token');
  }

  /** Answer a POST to `type` (already authorized) as `user`. */
  create(type: ResourceType, namespace: string | undefined, name: string | undefined, body: KubeObject, user: User): JsonObject {
    const spec = specOf(body);
    const access = (who: UserInfo, a: RequestAttributes): JsonObject => {
      const d = this.deps.authorizer.authorize(who, a);
      return d.allowed ? { allowed: true, ...(d.reason ? { reason: d.reason } : {}) } : { allowed: false };
    };
    switch (`${type.group}/${type.plural}`) {
      case 'authorization.k8s.io/selfsubjectaccessreviews':
        return answer(body, access(user, reviewedAttributes(spec, 'SelfSubjectAccessReview')));
      case 'authorization.k8s.io/subjectaccessreviews':
      case 'authorization.k8s.io/localsubjectaccessreviews': {
        const kind = type.kind;
        const a = reviewedAttributes(spec, kind);
        if (namespace !== undefined && (!a.resourceRequest || a.namespace !== namespace))
          throw errors.invalid('authorization.k8s.io', kind, '', `spec.resourceAttributes.namespace: Invalid value: must match metadata.namespace "${namespace}"`);
        const who: UserInfo = { name: str(spec['user']), groups: Array.isArray(spec['groups']) ? spec['groups'].map((g) => str(g)) : [], uid: str(spec['uid']) };
        if (!who.name && who.groups.length === 0) throw errors.invalid('authorization.k8s.io', kind, '', 'spec.user: Invalid value: "": at least one of user or group must be specified');
        return answer(body, access(who, a));
      }
      case 'authorization.k8s.io/selfsubjectrulesreviews': {
        const ns = str(spec['namespace']);
        const rules = this.deps.authorizer.rulesFor(user, ns);
        return answer(body, {
          resourceRules: rules.filter((r) => r.nonResourceURLs.length === 0).map(ruleJson),
          nonResourceRules: rules.filter((r) => r.nonResourceURLs.length > 0).map(ruleJson),
          incomplete: false,
        });
      }
      case 'authentication.k8s.io/selfsubjectreviews':
        return answer(body, { userInfo: userInfoJson(user) });
      case 'authentication.k8s.io/tokenreviews': {
        const who = this.deps.authenticateToken(str(spec['token']));
        return answer(body, who ? { authenticated: true, user: userInfoJson(who), audiences: ['https://kubernetes.default.svc.cluster.local'] } : { authenticated: false, user: {} });
      }
      case '/serviceaccounts':
        return this.tokenRequest(namespace ?? '', name ?? '', spec);
      default:
        throw errors.methodNotAllowed('POST');
    }
  }

  private tokenRequest(namespace: string, name: string, spec: JsonObject): JsonObject {
    const sa = this.deps.serviceAccount(namespace, name);
    const requested = spec['expirationSeconds'];
    const seconds = typeof requested === 'number' ? requested : DEFAULT_EXPIRATION_SECONDS;
    if (!Number.isInteger(seconds) || seconds < MIN_EXPIRATION_SECONDS)
      throw errors.invalid('authentication.k8s.io', 'TokenRequest', name, `spec.expirationSeconds: Invalid value: ${String(requested)}: may not specify a duration less than 10 minutes`);
    const audiences = Array.isArray(spec['audiences']) ? spec['audiences'].map((a) => str(a)).filter((a) => a) : [];
    const issued = this.deps.tokens.issue({ namespace, name, uid: sa.metadata.uid ?? '' }, audiences, seconds);
    return {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name, namespace, creationTimestamp: null },
      spec: { ...spec, audiences: audiences.length ? audiences : ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: seconds, boundObjectRef: spec['boundObjectRef'] ?? null },
      status: { token: issued.token, expirationTimestamp: issued.expirationTimestamp },
    };
  }
}
