/**
 * Service-account tokens as kube-apiserver issues them through the TokenRequest API
 * (`kubectl create token`, the kubelet's projected tokens): ES256-signed JWTs with the
 * `kubernetes.io` claims, bound to the ServiceAccount's uid. A token authenticates as
 * `system:serviceaccount:<ns>:<name>` with the groups `system:serviceaccounts`,
 * `system:serviceaccounts:<ns>` and `system:authenticated` while it has not expired, carries
 * the API audience and its ServiceAccount still exists with the same uid.
 */
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { serviceAccountGroups } from './rbac.js';
import type { UserInfo } from './rbac.js';

/** kube-apiserver's default issuer and API audience. */
export const ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const API_AUDIENCE = ISSUER;
/** TokenRequest's default and minimum lifetimes. */
export const DEFAULT_EXPIRATION_SECONDS = 3600;
export const MIN_EXPIRATION_SECONDS = 600;

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface IssuedToken {
  readonly token: string;
  readonly expirationTimestamp: string;
}

interface Claims {
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  iss: string;
  jti: string;
  sub: string;
  'kubernetes.io': { namespace: string; serviceaccount: { name: string; uid: string } };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export class ServiceAccountTokens {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #keyId: string;

  constructor() {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.#privateKey = privateKey;
    this.#publicKey = createPublicKey(privateKey);
    this.#keyId = randomUUID();
  }

  issue(sa: ServiceAccountRef, audiences: readonly string[], expirationSeconds: number, nowMs = Date.now()): IssuedToken {
    const iat = Math.floor(nowMs / 1000);
    const claims: Claims = {
      aud: audiences.length > 0 ? [...audiences] : [API_AUDIENCE],
      exp: iat + expirationSeconds,
      iat,
      nbf: iat,
      iss: ISSUER,
      jti: randomUUID(),
      sub: `system:serviceaccount:${sa.namespace}:${sa.name}`,
      'kubernetes.io': { namespace: sa.namespace, serviceaccount: { name: sa.name, uid: sa.uid } },
    };
    const input = `${b64url(JSON.stringify({ alg: 'ES256', kid: this.#keyId }))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.#privateKey, dsaEncoding: 'ieee-p1363' });
    return { token: `${input}.${b64url(signature)}`, expirationTimestamp: new Date(claims.exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
  }

  /**
   * The user a token stands for, or undefined when it is not one of ours, is expired, not
   * meant for the API, or its ServiceAccount is gone (`uidOf` answers the live uid).
   */
  authenticate(token: string, uidOf: (namespace: string, name: string) => string | undefined, nowMs = Date.now()): UserInfo | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    const valid = verify('sha256', Buffer.from(`${header}.${payload}`), { key: this.#publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
    if (!valid) return undefined;
    let claims: Claims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
    } catch {
      return undefined;
    }
    const now = Math.floor(nowMs / 1000);
    const k8s = claims['kubernetes.io'];
    if (claims.iss !== ISSUER || !Array.isArray(claims.aud) || !claims.aud.includes(API_AUDIENCE)) return undefined;
    if (typeof claims.exp !== 'number' || now >= claims.exp || (typeof claims.nbf === 'number' && now < claims.nbf)) return undefined;
    if (!k8s || uidOf(k8s.namespace, k8s.serviceaccount.name) !== k8s.serviceaccount.uid) return undefined;
    return {
      name: `system:serviceaccount:${k8s.namespace}:${k8s.serviceaccount.name}`,
      uid: k8s.serviceaccount.uid,
      groups: [...serviceAccountGroups(k8s.namespace), 'system:authenticated'],
    };
  }
}
