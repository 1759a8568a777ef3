/**
 * The kubeconfig reader and its access against a real devcluster: certificates and tokens
 * inline and in files (paths relative to the kubeconfig), $KUBECONFIG merged as kubectl
 * merges it, token files read again after a minute, in-cluster config, impersonation,
 * TLS options, an `exec` credential plugin (through @kubernetes/client-node), and one-line
 * errors that never quote a secret.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { openKubeAccess, REREAD_MS } from '../../src/kube/kube-access.js';
import { KubeClient, KubeError } from '../../src/kube/kube-client.js';
import {
  inClusterSelection,
  KubeconfigError,
  readDefaultKubeconfig,
  readKubeconfigFile,
  readKubeconfigText,
} from '../../src/kube/kubeconfig-read.js';

interface WhoAmI {
  status: { userInfo: { username: string; groups?: string[] } };
}

async function whoami(client: KubeClient): Promise<WhoAmI['status']['userInfo']> {
  const review = await client.json<WhoAmI>({
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return review.status.userInfo;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A kubeconfig with one context `c` for `cluster` and `user` (either may be omitted). */
function kubeconfig(cluster: Record<string, unknown>, user?: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'k', cluster }],
    ...(user ? { users: [{ name: 'u', user }] } : {}),
    contexts: [{ name: 'c', context: { cluster: 'k', ...(user ? { user: 'u' } : {}) } }],
    'current-context': 'c',
    ...extra,
  });
}

describe('kubeconfig reader against a devcluster', () => {
  let dc: DevCluster;
  let dir: string;
  const tokens = { one: 'token-one-0123456789', two: 'token-two-0123456789', exec: 'token-exec-0123456789' };

  before(async () => {
    dc = await startDevCluster({ name: 'kc' });
    dir = await mkdtemp(join(tmpdir(), 'tower-kubeconfig-'));
    dc.addToken(tokens.one, 'user-one', ['system:masters']);
    dc.addToken(tokens.two, 'user-two', ['system:masters']);
    dc.addToken(tokens.exec, 'user-exec', ['system:masters']);
  });
  after(async () => {
    await dc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the devcluster\'s admin (client certificate) and token kubeconfigs', async () => {
    assert.equal((await whoami(KubeClient.fromString(dc.adminKubeconfig))).username, 'kubernetes-admin');
    assert.equal((await whoami(KubeClient.fromString(dc.tokenKubeconfig))).username, 'admin');
  });

  it('resolves relative certificate-authority, client-certificate and client-key against the kubeconfig\'s directory', async () => {
    const sub = join(dir, 'relative');
    await mkdir(join(sub, 'pki'), { recursive: true });
    const cert = await dc.issueClientCert('file-user', ['system:masters']);
    await writeFile(join(sub, 'ca.crt'), dc.caPem);
    await writeFile(join(sub, 'pki', 'user.crt'), cert.certPem);
    await writeFile(join(sub, 'pki', 'user.key'), cert.keyPem);
    const path = join(sub, 'config');
    await writeFile(path, kubeconfig({ server: dc.url, 'certificate-authority': 'ca.crt' }, { 'client-certificate': 'pki/user.crt', 'client-key': './pki/user.key' }));
    const selection = readKubeconfigFile(path);
    assert.equal(selection.cluster.caFile, join(sub, 'ca.crt'));
    assert.equal(selection.user.keyFile, join(sub, 'pki', 'user.key'));
    assert.equal((await whoami(KubeClient.load({ path }))).username, 'file-user');
  });

  it('merges $KUBECONFIG as kubectl does: missing files skipped, the first file to name an entry or set current-context wins', async () => {
    const one = join(dir, 'merge-one');
    const two = join(dir, 'merge-two');
    await mkdir(one);
    await mkdir(two);
    await writeFile(join(one, 'ca.crt'), dc.caPem);
    await writeFile(
      join(one, 'config'),
      stringify({
        clusters: [{ name: 'k', cluster: { server: dc.url, 'certificate-authority': 'ca.crt' } }],
        users: [{ name: 'first', user: { token: tokens.one } }],
        contexts: [{ name: 'ctx-first', context: { cluster: 'k', user: 'first' } }],
        'current-context': 'ctx-second',
      }),
    );
    await writeFile(
      join(two, 'config'),
      stringify({
        // Shadowed by the first file: never used.
        clusters: [{ name: 'k', cluster: { server: 'https://127.0.0.1:1', 'certificate-authority': 'missing.crt' } }],
        users: [
          { name: 'first', user: { token: 'shadowed-token' } },
          { name: 'second', user: { token: tokens.two } },
        ],
        contexts: [
          { name: 'ctx-first', context: { cluster: 'nowhere', user: 'first' } },
          { name: 'ctx-second', context: { cluster: 'k', user: 'second' } },
        ],
        'current-context': 'ctx-first',
      }),
    );
    const list = [join(dir, 'absent'), join(one, 'config'), '', join(two, 'config')].join(':');
    const selection = readDefaultKubeconfig({ KUBECONFIG: list }, '/nonexistent-home');
    assert.equal(selection.context, 'ctx-second');
    assert.equal(selection.cluster.server.href, `${dc.url}/`);
    assert.equal(selection.cluster.caFile, join(one, 'ca.crt'), 'relative to the file that named the cluster');
    assert.equal((await whoami(KubeClient.fromAccess(openKubeAccess(selection)))).username, 'user-two');

    assert.throws(() => readDefaultKubeconfig({ KUBECONFIG: `${join(dir, 'absent')}:${join(dir, 'absent2')}` }, '/nonexistent-home'), /no file in KUBECONFIG exists/);
  });

  it('without $KUBECONFIG reads ~/.kube/config, and says so when it is missing', async () => {
    const home = join(dir, 'home');
    assert.throws(() => readDefaultKubeconfig({}, home), (e: Error) => e instanceof KubeconfigError && /KUBECONFIG is not set and .*\.kube\/config does not exist/.test(e.message));
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), dc.tokenKubeconfig);
    assert.equal((await whoami(KubeClient.fromAccess(openKubeAccess(readDefaultKubeconfig({}, home))))).username, 'admin');
  });

  it('reads a tokenFile again after a minute, and keeps the CA Buffer while the file is unchanged', async () => {
    const tokenFile = join(dir, 'rotating-token');
    const caFile = join(dir, 'rotating-ca.crt');
    await writeFile(tokenFile, `${tokens.one}\n`);
    await writeFile(caFile, dc.caPem);
    let now = 1_000_000;
    const access = openKubeAccess(readKubeconfigText(kubeconfig({ server: dc.url, 'certificate-authority': caFile }, { tokenFile })), { now: () => now });
    const client = KubeClient.fromAccess(access);
    assert.equal((await whoami(client)).username, 'user-one');
    const first = await access.credentials();
    await writeFile(tokenFile, tokens.two);
    now += REREAD_MS - 1;
    assert.equal((await whoami(client)).username, 'user-one', 'read at most once a minute');
    now += 1;
    assert.equal((await whoami(client)).username, 'user-two', 'the rotated token');
    assert.equal((await access.credentials()).ca, first.ca, 'an unchanged CA file gives the same Buffer');
    await rm(tokenFile);
    now += REREAD_MS;
    assert.equal((await whoami(client)).username, 'user-two', 'a failed re-read keeps the last token');
  });

  it('in-cluster: KUBERNETES_SERVICE_HOST/PORT, the service account\'s ca.crt and token (rotated)', async () => {
    const sa = join(dir, 'serviceaccount');
    await mkdir(sa);
    await writeFile(join(sa, 'ca.crt'), dc.caPem);
    await writeFile(join(sa, 'token'), tokens.one);
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(dc.port) };
    let now = 0;
    const access = openKubeAccess(inClusterSelection(env, sa), { now: () => now });
    assert.equal(access.server.href, `https://127.0.0.1:${dc.port}/`);
    const client = KubeClient.fromAccess(access);
    assert.equal((await whoami(client)).username, 'user-one');
    await writeFile(join(sa, 'token'), tokens.two);
    now += REREAD_MS;
    assert.equal((await whoami(client)).username, 'user-two');

    assert.equal(inClusterSelection({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa).cluster.server.host, '[fd00::1]');
    assert.throws(() => inClusterSelection({}, sa), /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/);
    assert.throws(() => openKubeAccess(inClusterSelection(env, join(dir, 'no-such-sa'))), /in-cluster config.*cannot read .*no-such-sa\/ca\.crt \(ENOENT\)/);
  });

  it('impersonates with as and as-groups', async () => {
    const admin = readKubeconfigText(dc.adminKubeconfig);
    const text = kubeconfig(
      { server: dc.url, 'certificate-authority-data': b64(dc.caPem) },
      {
        'client-certificate-data': admin.user.certData!.toString('base64'),
        'client-key-data': admin.user.keyData!.toString('base64'),
        as: 'someone',
        'as-groups': ['team-a', 'team-b'],
      },
    );
    const who = await whoami(KubeClient.fromString(text));
    assert.equal(who.username, 'someone');
    assert.deepEqual(who.groups?.filter((g) => g.startsWith('team-')), ['team-a', 'team-b']);
  });

  it('insecure-skip-tls-verify and tls-server-name decide how the server is verified', async () => {
    const token = { token: tokens.one };
    assert.equal((await whoami(KubeClient.fromString(kubeconfig({ server: dc.url, 'insecure-skip-tls-verify': true }, token)))).username, 'user-one');
    await assert.rejects(whoami(KubeClient.fromString(kubeconfig({ server: dc.url }, token))), (e: Error) => e instanceof KubeError && e.reason === 'ConnectionFailed' && !e.message.includes('\n'));
    const ca = { 'certificate-authority-data': b64(dc.caPem) };
    assert.equal((await whoami(KubeClient.fromString(kubeconfig({ server: dc.url, ...ca, 'tls-server-name': 'kubernetes.default.svc' }, token)))).username, 'user-one');
    await assert.rejects(whoami(KubeClient.fromString(kubeconfig({ server: dc.url, ...ca, 'tls-server-name': 'elsewhere.example' }, token))), /elsewhere\.example/);
  });

  it('an exec credential plugin works through @kubernetes/client-node', async () => {
    const plugin = join(dir, 'plugin.mjs');
    const credential = { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: tokens.exec } };
    await writeFile(plugin, `process.stdout.write(${JSON.stringify(JSON.stringify(credential))});\n`);
    const text = kubeconfig(
      { server: dc.url, 'certificate-authority-data': b64(dc.caPem) },
      { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [plugin], interactiveMode: 'Never' } },
    );
    assert.equal((await whoami(KubeClient.fromString(text))).username, 'user-exec');

    const failing = kubeconfig(
      { server: dc.url, 'certificate-authority-data': b64(dc.caPem) },
      { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: join(dir, 'no-such-plugin'), interactiveMode: 'Never' } },
    );
    await assert.rejects(whoami(KubeClient.fromString(failing)), (e: Error) => e instanceof KubeconfigError && /user "u"/.test(e.message) && !e.message.includes('\n'));
  });
});

describe('kubeconfig mistakes: one line, no secret', () => {
  const secret = 'c2VjcmV0LXRva2VuLXZhbHVl';
  const cases: Array<[string, string, RegExp]> = [
    ['broken YAML quoting a token', `users:\n- name: u\n  user: {token: ${secret}\ncurrent-context: c\n  x: [`, /is not valid YAML: .* at line \d+, column \d+$/],
    ['no current-context', kubeconfig({ server: 'https://h' }, { token: secret }, { 'current-context': null }), /current-context is not set/],
    ['current-context not defined', kubeconfig({ server: 'https://h' }, { token: secret }, { 'current-context': 'other' }), /current-context "other" is not among its contexts/],
    ['context naming an unknown cluster', stringify({ contexts: [{ name: 'c', context: { cluster: 'nope' } }], 'current-context': 'c' }), /context "c" names cluster "nope", which is not defined/],
    ['context naming an unknown user', stringify({ clusters: [{ name: 'k', cluster: { server: 'https://h' } }], contexts: [{ name: 'c', context: { cluster: 'k', user: 'ghost' } }], 'current-context': 'c' }), /names user "ghost", which is not defined/],
    ['a cluster without server', kubeconfig({ 'certificate-authority-data': b64('x') }, { token: secret }), /cluster "k" has no server/],
    ['a server that is not a URL', kubeconfig({ server: 'not a url' }, { token: secret }), /server is not a URL/],
    ['a server that is not http(s)', kubeconfig({ server: 'ftp://h' }, { token: secret }), /server is not an http\(s\) URL/],
    ['client-key-data not base64', kubeconfig({ server: 'https://h' }, { 'client-certificate-data': b64('c'), 'client-key-data': `${secret}!!` }), /user "u": client-key-data is not base64/],
    ['insecure-skip-tls-verify as a string', kubeconfig({ server: 'https://h', 'insecure-skip-tls-verify': 'yes' }, { token: secret }), /insecure-skip-tls-verify is not true or false/],
    ['a cluster listed twice', stringify({ clusters: [{ name: 'k', cluster: { server: 'https://a' } }, { name: 'k', cluster: { server: 'https://b' } }] }), /clusters has "k" twice/],
    ['a user without a name', stringify({ users: [{ user: { token: secret } }] }), /users\[0\] has no name/],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => {
      assert.throws(
        () => openKubeAccess(readKubeconfigText(text, '/', 'kubeconfig test.yaml')),
        (e: Error) => {
          assert.ok(e instanceof KubeconfigError, `${e.name}: ${e.message}`);
          assert.match(e.message, /^kubeconfig test\.yaml/);
          assert.match(e.message, expected);
          assert.ok(!e.message.includes('\n'), `one line: ${JSON.stringify(e.message)}`);
          assert.ok(!e.message.includes(secret), `no secret: ${e.message}`);
          return true;
        },
      );
    });
  }

  it('a client certificate without its key', () => {
    assert.throws(() => openKubeAccess(readKubeconfigText(kubeconfig({ server: 'https://h' }, { 'client-certificate-data': b64('c') }))), /client certificate without a key/);
  });

  it('a kubeconfig file that does not exist, and a CA file that does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tower-kubeconfig-'));
    try {
      assert.throws(() => readKubeconfigFile(join(dir, 'nope')), /cannot read kubeconfig .*nope: file not found$/);
      const path = join(dir, 'config');
      await writeFile(path, kubeconfig({ server: 'https://h', 'certificate-authority': 'ca.crt' }, { token: secret }));
      assert.throws(() => openKubeAccess(readKubeconfigFile(path)), new RegExp(`cluster "k" certificate-authority: cannot read ${join(dir, 'ca.crt')} \\(ENOENT\\)$`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
