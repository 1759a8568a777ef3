import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffClusters, sameCluster } from '../../src/cluster-sources/cluster-diff.js';
import type { ServedCluster } from '../../src/cluster-sources/cluster-source.js';

const cluster = (name: string, port: number, more: Partial<ServedCluster> = {}): ServedCluster => ({
  name,
  token: `t-${name}`,
  kubernetesAPIServerPort: port,
  kubesphereAPIServerPort: port + 10000,
  ...more,
});
const byName = (...clusters: ServedCluster[]) => new Map(clusters.map((c) => [c.name, c]));

test('same set: no events', () => {
  assert.deepEqual(diffClusters(byName(cluster('a', 1)), byName(cluster('a', 1))), []);
});

test('every field counts as a change', () => {
  const base = cluster('a', 1, { extraHosts: ['h1'] });
  for (const changed of [
    { ...base, token: 'other' },
    { ...base, kubernetesAPIServerPort: 2 },
    { ...base, kubesphereAPIServerPort: 2 },
    { ...base, extraHosts: ['h2'] },
    { ...base, extraHosts: undefined },
  ]) {
    assert.equal(sameCluster(base, changed), false, JSON.stringify(changed));
  }
  assert.equal(sameCluster(cluster('a', 1), cluster('a', 1, { extraHosts: [] })), true);
});

test('removals come before upserts', () => {
  const events = diffClusters(byName(cluster('a', 1), cluster('b', 2)), byName(cluster('c', 1), cluster('b', 3)));
  assert.deepEqual(events, [
    { type: 'cluster.remove', name: 'a' },
    { type: 'cluster.upsert', cluster: cluster('c', 1) },
    { type: 'cluster.upsert', cluster: cluster('b', 3) },
  ]);
});
