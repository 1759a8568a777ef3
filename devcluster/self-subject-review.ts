/**
 * `kubectl auth whoami`: `POST /apis/authentication.k8s.io/v1/selfsubjectreviews` answers
 * with the user the request authenticated as (authentication.k8s.io/v1 SelfSubjectReview).
 */
import type { User } from './auth.js';
import type { JsonObject } from './types.js';

export const SELF_SUBJECT_REVIEW_PATH = '/apis/authentication.k8s.io/v1/selfsubjectreviews';

export function selfSubjectReview(user: User): JsonObject {
  return {
    kind: 'SelfSubjectReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    status: { userInfo: { username: user.name, groups: [...user.groups] } },
  };
}
