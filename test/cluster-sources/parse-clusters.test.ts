import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusters } from '../../src/cluster-sources/parse-clusters.js';
import { ClusterFileError } from '../../src/cluster-sources/cluster-file-error.js';
import { clusterObject, TOKEN_MARK, yamlStream } from './fixtures.js';

const FILE = 'clusters.yaml';
const alpha = clusterObject({ name: 'alpha' }, 0);
const beta = clusterObject({ name: 'beta' }, 1);

function names(text: string): string[] {
  return [...parseClusters(text, FILE).served.keys()];
}

test('one YAML document', () => {
  const parsed = parseClusters(yamlStream([alpha]), FILE);
  assert.deepEqual([...parsed.served.values()], [
    {
      name: 'alpha',
      token: `${TOKEN_MARK}-alpha-0123456789abcdef`,
      kubernetesAPIServerPort: 6000,
      kubesphereAPIServerPort: 16000,
    },
  ]);
  assert.deepEqual(parsed.skipped, []);
});

test('multi-document YAML stream, empty documents ignored', () => {
  assert.deepEqual(names(`---\n${yamlStream([alpha, beta])}---\n`), ['alpha', 'beta']);
});

test('List and ClusterList with items', () => {
  for (const kind of ['List', 'ClusterList']) {
    assert.deepEqual(names(yamlStream([{ apiVersion: 'v1', kind, items: [alpha, beta] }])), ['alpha', 'beta']);
  }
  assert.deepEqual(names(yamlStream([{ apiVersion: 'v1', kind: 'List', items: [] }])), []);
});

test('JSON: an array, a single object, a List; tabs are fine', () => {
  assert.deepEqual(names(JSON.stringify([alpha, beta], null, '\t')), ['alpha', 'beta']);
  assert.deepEqual(names(JSON.stringify(alpha)), ['alpha']);
  assert.deepEqual(names(JSON.stringify({ kind: 'ClusterList', items: [beta] }, null, 2)), ['beta']);
});

test('an empty file or only comments: no clusters', () => {
  assert.deepEqual(names(''), []);
  assert.deepEqual(names('# nothing yet\n'), []);
});

test('served unless type is not proxy or joinFederation is false', () => {
  const parsed = parseClusters(
    yamlStream([
      clusterObject({ name: 'direct', type: 'direct' }, 0),
      clusterObject({ name: 'unjoined', joinFederation: false }, 1),
      clusterObject({ name: 'unsaid', joinFederation: undefined }, 2),
      clusterObject({ name: 'joined', joinFederation: true }, 3),
    ]),
    FILE,
  );
  assert.deepEqual([...parsed.served.keys()], ['unsaid', 'joined']);
  assert.deepEqual(parsed.skipped.map((s) => s.name), ['direct', 'unjoined']);
  assert.match(parsed.skipped[0]?.reason ?? '', /"direct", not "proxy"/);
});

test('an object being deleted is not served', () => {
  const object = { ...alpha, metadata: { name: 'alpha', deletionTimestamp: '2024-01-01T00:00:00Z' } };
  const parsed = parseClusters(yamlStream([object]), FILE);
  assert.deepEqual([...parsed.served.keys()], []);
  assert.deepEqual(parsed.skipped, [{ name: 'alpha', reason: 'metadata.deletionTimestamp is set' }]);
});

test('endpoint hosts become extraHosts, deduplicated', () => {
  const object = clusterObject({ name: 'alpha' });
  const connection = (object['spec'] as { connection: Record<string, unknown> }).connection;
  connection['kubernetesAPIEndpoint'] = 'https://10.0.0.7:6443';
  connection['externalKubernetesAPIEndpoint'] = 'https://[2001:db8::1]:6443';
  connection['kubesphereAPIEndpoint'] = 'http://10.0.0.7:80';
  const parsed = parseClusters(yamlStream([object]), FILE);
  assert.deepEqual(parsed.served.get('alpha')?.extraHosts, ['10.0.0.7', '2001:db8::1']);
});

test('metadata.namespace and status are ignored (kubectl output works)', () => {
  const object = { ...alpha, metadata: { name: 'alpha', namespace: 'kubesphere-system' }, status: { nodeCount: 3 } };
  assert.deepEqual(names(yamlStream([object])), ['alpha']);
});

/** Each invalid file, and a pattern its one-line message must match. */
const INVALID: ReadonlyArray<{ what: string; text: string; message: RegExp | string }> = [
  {
    what: 'bad YAML (no excerpt of the line, which could hold a token)',
    text: `apiVersion: x\ntoken: "${TOKEN_MARK}-unterminated\n`,
    message: /^clusters file "clusters\.yaml": invalid YAML\/JSON at line \d+, column \d+: Missing closing "quote; fix the syntax$/,
  },
  {
    what: 'duplicate key',
    text: 'kind: Cluster\nkind: Cluster\n',
    message: /invalid YAML\/JSON at line 2, column 1: Map keys must be unique; fix the syntax$/,
  },
  {
    what: 'a scalar document',
    text: 'hello\n',
    message: 'clusters file "clusters.yaml", document 1 (line 1): expected a Cluster object, a List of them or an array, found "hello"; write each cluster as a mapping with apiVersion, kind, metadata and spec',
  },
  {
    what: 'wrong apiVersion',
    text: yamlStream([alpha, { ...beta, apiVersion: 'v1' }]),
    message: /^clusters file "clusters\.yaml", object #2 \(line \d+, name "beta"\): apiVersion is "v1"; set apiVersion: cluster\.kubesphere\.io\/v1alpha1$/,
  },
  { what: 'wrong kind', text: yamlStream([{ ...alpha, kind: 'Pod' }]), message: /object #1 \(line 1, name "alpha"\): kind is "Pod"; set kind: Cluster$/ },
  { what: 'missing name', text: yamlStream([{ ...alpha, metadata: {} }]), message: /object #1 \(line 1\): metadata\.name is missing; set it to the cluster's name/ },
  {
    what: 'name not DNS-1123',
    text: yamlStream([clusterObject({ name: 'Alpha_1' })]),
    message: /name "Alpha_1"\): metadata\.name "Alpha_1" is not a DNS-1123 subdomain; use at most 253 lowercase letters/,
  },
  { what: 'name too long', text: yamlStream([clusterObject({ name: 'a'.repeat(254) })]), message: /is not a DNS-1123 subdomain/ },
  { what: 'missing token', text: yamlStream([clusterObject({ name: 'alpha', token: undefined })]), message: /spec\.connection\.token is missing; set it to the secret the agent passes as --token/ },
  { what: 'empty token', text: yamlStream([clusterObject({ name: 'alpha', token: '' })]), message: /spec\.connection\.token is empty; set it to/ },
  { what: 'blank token', text: yamlStream([clusterObject({ name: 'alpha', token: '   ' })]), message: /spec\.connection\.token is empty/ },
  { what: 'numeric token', text: yamlStream([clusterObject({ name: 'alpha', token: 12345 })]), message: /spec\.connection\.token is not a string; quote it$/ },
  {
    what: 'token with whitespace around it',
    text: yamlStream([clusterObject({ name: 'alpha', token: ` ${TOKEN_MARK}-x ` })]),
    message: /spec\.connection\.token has leading or trailing whitespace; remove it$/,
  },
  {
    what: 'port out of range',
    text: yamlStream([clusterObject({ name: 'alpha', kubernetesAPIServerPort: 70000 })]),
    message: /spec\.connection\.kubernetesAPIServerPort is 70000; set it to an integer from 1 to 65535 \(the proxy's HTTPS port for this cluster's kube-apiserver\)$/,
  },
  { what: 'port zero', text: yamlStream([clusterObject({ name: 'alpha', kubesphereAPIServerPort: 0 })]), message: /kubesphereAPIServerPort is 0; set it to an integer from 1 to 65535/ },
  { what: 'port not an integer', text: yamlStream([clusterObject({ name: 'alpha', kubesphereAPIServerPort: 16000.5 })]), message: /kubesphereAPIServerPort is 16000\.5;/ },
  { what: 'port as a string', text: yamlStream([clusterObject({ name: 'alpha', kubernetesAPIServerPort: '6443' })]), message: /kubernetesAPIServerPort is "6443";/ },
  { what: 'port missing', text: yamlStream([clusterObject({ name: 'alpha', kubernetesAPIServerPort: undefined })]), message: /kubernetesAPIServerPort is missing;/ },
  {
    what: 'both ports of a cluster equal',
    text: yamlStream([clusterObject({ name: 'alpha', kubernetesAPIServerPort: 7000, kubesphereAPIServerPort: 7000 })]),
    message: /kubernetesAPIServerPort and kubesphereAPIServerPort are both 7000; give them different ports/,
  },
  {
    what: 'two clusters share a port',
    text: yamlStream([alpha, clusterObject({ name: 'beta', kubesphereAPIServerPort: 6000 }, 1)]),
    message: /object #2 \(line \d+, name "beta"\): spec\.connection\.kubesphereAPIServerPort 6000 is already used by cluster "alpha" \(object #1 \(line 1\)\); give every cluster its own ports$/,
  },
  {
    what: 'two clusters share a name',
    text: yamlStream([alpha, clusterObject({ name: 'alpha' }, 1)]),
    message: /object #2 \(line \d+, name "alpha"\): metadata\.name is also used by object #1 \(line 1\); give every cluster its own name$/,
  },
  { what: 'joinFederation not a boolean', text: yamlStream([clusterObject({ name: 'alpha', joinFederation: 'yes' })]), message: /spec\.joinFederation is "yes"; set it to true or false$/ },
  { what: 'an item that is not an object', text: JSON.stringify([alpha, 42]), message: /object #2 \(line 1\): is 42, not an object/ },
  { what: 'List items not a list', text: 'kind: List\nitems: 3\n', message: /document 1 \(line 1\): List\.items is 3, not a list/ },
];

for (const { what, text, message } of INVALID) {
  test(`invalid: ${what}`, () => {
    assert.throws(
      () => parseClusters(text, FILE),
      (err: unknown) => {
        assert.ok(err instanceof ClusterFileError, `not a ClusterFileError: ${String(err)}`);
        if (typeof message === 'string') assert.equal(err.message, message);
        else assert.match(err.message, message);
        assert.ok(err.message.startsWith('clusters file "clusters.yaml"'), err.message);
        assert.ok(!err.message.includes('\n'), 'one line');
        assert.ok(!err.message.includes(TOKEN_MARK), `token leaked: ${err.message}`);
        return true;
      },
    );
  });
}
