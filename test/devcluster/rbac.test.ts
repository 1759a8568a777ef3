/**
 * Service-account tokens and RBAC with the real kubectl: `kubectl create token`,
 * `kubectl auth whoami`, `kubectl auth can-i` (also `--as system:serviceaccount:…`,
 * `--subresource`, non-resource URLs, `--list`), 403 Status texts as kube-apiserver
 * words them, impersonation checks, SubjectAccessReview, the audit record of denials,
 * and the immutable fields an in-place upgrade runs into.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './helpers.js';
import { call } from './http-client.js';
import { ServiceAccountTokens } from '../../devcluster/sa-tokens.js';

const SA = 'system:serviceaccount:kubesphere-system:robot';

const ROLE_YAML = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: robot, namespace: kubesphere-system}
rules:
- apiGroups: [""]
  resources: [services]
  verbs: [get, list]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [tower]
  verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot, namespace: kubesphere-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: robot}
subjects:
- {kind: ServiceAccount, name: robot, namespace: kubesphere-system}
`;

describe('devcluster service-account tokens and RBAC', { timeout: 120_000 }, () => {
  let h: Harness;
  let token: string;
  const asRobot = (args: string[]) => h.kubectl([...args, '--token', token]);

  before(async () => {
    h = await startHarness({ name: 'rbac' });
    await h.ok(['-n', 'kubesphere-system', 'create', 'serviceaccount', 'robot']);
    token = (await h.ok(['-n', 'kubesphere-system', 'create', 'token', 'robot'])).trim();
  });
  after(() => h?.close());

  it('issues a JWT with `kubectl create token` that authenticates as the service account with its groups', async () => {
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims['sub'], SA);
    const who = await asRobot(['auth', 'whoami', '-o', 'json']);
    assert.equal(who.code, 0, who.stderr);
    const info = (JSON.parse(who.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    assert.equal(info.username, SA);
    assert.deepEqual(info.groups, ['system:serviceaccounts', 'system:serviceaccounts:kubesphere-system', 'system:authenticated']);
  });

  it('answers 403 with kube-apiserver\'s wording until a Role allows it, then within that Role only', async () => {
    const denied = await asRobot(['-n', 'kubesphere-system', 'get', 'services']);
    assert.equal(denied.code, 1);
    assert.match(
      denied.stderr,
      /Error from server \(Forbidden\): services is forbidden: User "system:serviceaccount:kubesphere-system:robot" cannot list resource "services" in API group "" in the namespace "kubesphere-system"/,
    );
    await h.ok(['apply', '-f', '-'], { input: ROLE_YAML });
    assert.equal((await asRobot(['-n', 'kubesphere-system', 'get', 'services'])).code, 0);
    const other = await asRobot(['-n', 'default', 'get', 'services']);
    assert.match(other.stderr, /cannot list resource "services" in API group "" in the namespace "default"/);
    const write = await asRobot(['-n', 'kubesphere-system', 'delete', 'service', 'nope']);
    assert.match(write.stderr, /services "nope" is forbidden: User "system:serviceaccount:kubesphere-system:robot" cannot delete resource "services"/);
  });

  it('`kubectl auth can-i` as admin, as the token, and `--as` the service account, with resourceNames, subresources and paths', async () => {
    const canI = async (args: string[], extra: string[] = []) => (await h.kubectl(['auth', 'can-i', ...args, ...extra])).stdout.trim();
    const asSa = ['--as', SA];
    assert.equal(await canI(['delete', 'nodes']), 'yes');
    assert.equal(await canI(['-n', 'kubesphere-system', 'list', 'services'], asSa), 'yes');
    assert.equal(await canI(['-n', 'kubesphere-system', 'create', 'services'], asSa), 'no');
    assert.equal(await canI(['-n', 'kubesphere-system', 'update', 'leases/tower'], asSa), 'yes');
    assert.equal(await canI(['-n', 'kubesphere-system', 'update', 'leases/other'], asSa), 'no');
    assert.equal(await canI(['-n', 'kubesphere-system', 'update', 'services', '--subresource=status'], asSa), 'no');
    assert.equal(await canI(['get', '/apis'], asSa), 'yes');
    assert.equal(await canI(['get', '/metrics'], asSa), 'no');
    assert.equal((await asRobot(['auth', 'can-i', '-n', 'kubesphere-system', 'get', 'services'])).stdout.trim(), 'yes');
    const list = await h.ok(['auth', 'can-i', '--list', '-n', 'kubesphere-system', ...asSa]);
    assert.match(list, /leases\.coordination\.k8s\.io\s+\[\]\s+\[tower\]\s+\[get update\]/);
  });

  it('lets only those allowed to impersonate use --as', async () => {
    const r = await asRobot(['auth', 'can-i', 'get', 'pods', '--as', 'system:serviceaccount:default:default']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /serviceaccounts "default" is forbidden: User "system:serviceaccount:kubesphere-system:robot" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "default"/);
  });

  it('answers SubjectAccessReviews for another subject, with the binding that allowed it, and TokenReviews', async () => {
    const body = JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: SA, groups: ['system:serviceaccounts'], resourceAttributes: { namespace: 'kubesphere-system', verb: 'get', resource: 'services' } },
    });
    const r = await call(h.cluster, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { body, contentType: 'application/json' });
    assert.equal(r.status, 201);
    const status = (r.json as { status: { allowed: boolean; reason: string } }).status;
    assert.equal(status.allowed, true);
    assert.equal(status.reason, 'RBAC: allowed by RoleBinding "robot/kubesphere-system" of Role "robot" to ServiceAccount "robot/kubesphere-system"');
    const review = await call(h.cluster, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }),
      contentType: 'application/json',
    });
    assert.deepEqual((review.json as { status: { authenticated: boolean; user: { username: string } } }).status.user.username, SA);
  });

  it('records every denied request with its attributes', async () => {
    h.cluster.audit.clear();
    await asRobot(['-n', 'kubesphere-system', 'create', 'configmap', 'x', '--from-literal=a=b']);
    const denied = h.cluster.audit.records().filter((r) => !r.allowed);
    assert.equal(denied.length, 1);
    const [d] = denied;
    assert.equal(d?.user, SA);
    assert.deepEqual(d?.attributes, {
      resourceRequest: true, verb: 'create', apiGroup: '', apiVersion: 'v1', resource: 'configmaps', subresource: '', namespace: 'kubesphere-system', name: '', path: '/api/v1/namespaces/kubesphere-system/configmaps',
    });
  });

  it('stops accepting the token once its service account is deleted', async () => {
    await h.ok(['-n', 'kubesphere-system', 'delete', 'serviceaccount', 'robot']);
    const r = await asRobot(['-n', 'kubesphere-system', 'get', 'services']);
    assert.match(r.stderr, /Unauthorized/);
  });

  it('rejects an expired token and one made for another audience', () => {
    const tokens = new ServiceAccountTokens();
    const sa = { namespace: 'ns', name: 'sa', uid: 'u1' };
    const uid = () => 'u1';
    const t = tokens.issue(sa, [], 600, Date.now() - 601_000).token;
    assert.equal(tokens.authenticate(t, uid), undefined);
    assert.equal(tokens.authenticate(tokens.issue(sa, ['vault'], 600).token, uid), undefined);
    assert.equal(tokens.authenticate(tokens.issue(sa, [], 600).token, uid)?.name, 'system:serviceaccount:ns:sa');
    assert.equal(tokens.authenticate(tokens.issue(sa, [], 600).token, () => 'other-uid'), undefined);
  });

  it('keeps a Deployment\'s selector and a binding\'s roleRef immutable, as kube-apiserver does', async () => {
    const deployment = (labels: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {${labels}}}
  template:
    metadata: {labels: {app: web, tier: a}}
    spec: {containers: [{name: web, image: web}]}
`;
    await h.ok(['apply', '--server-side', '-f', '-'], { input: deployment('app: web') });
    const changed = await h.kubectl(['apply', '--server-side', '-f', '-'], { input: deployment('app: web, tier: a') });
    assert.match(changed.stderr, /The Deployment "web" is invalid: spec\.selector: Invalid value: .*field is immutable/);
    const mismatch = await h.kubectl(['apply', '-f', '-'], { input: deployment('app: other').replace('name: web,', 'name: web2,') });
    assert.match(mismatch.stderr, /`selector` does not match template `labels`/);
    await h.ok(['create', 'clusterrolebinding', 'b', '--clusterrole=view', '--user=u']);
    const rebind = await h.kubectl(['apply', '-f', '-'], {
      input: 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: User, name: u}]\n',
    });
    assert.match(rebind.stderr, /cannot change roleRef/);
  });
});
