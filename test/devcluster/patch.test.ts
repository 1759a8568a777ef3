/** Unit tests of the patch, selector and protobuf codecs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPatch, mergePatch, strategicMerge } from '../../devcluster/patch.js';
import { parseLabelSelector } from '../../devcluster/selectors.js';
import { decodeProtobuf } from '../../devcluster/protobuf.js';
import type { KubeObject } from '../../devcluster/types.js';

describe('patches', () => {
  it('merge patch (RFC 7386): null deletes, objects merge, lists replace', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { a: null, b: { c: 5 }, l: [3] }), { b: { c: 5, d: 3 }, l: [3] });
  });

  it('JSON patch (RFC 6902): add/remove/replace/move/copy/test with escaped pointers', () => {
    const doc = { metadata: { annotations: { 'a/b': 'x' } }, list: [1, 2] };
    const out = jsonPatch(doc, [
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'replace', path: '/metadata/annotations/a~1b', value: 'y' },
      { op: 'copy', from: '/list/0', path: '/first' },
      { op: 'move', from: '/first', path: '/moved' },
      { op: 'remove', path: '/list/1' },
      { op: 'test', path: '/moved', value: 1 },
    ]);
    assert.deepEqual(out, { metadata: { annotations: { 'a/b': 'y' } }, list: [1, 3], moved: 1 });
    assert.throws(() => jsonPatch(doc, [{ op: 'remove', path: '/nope' }]), /does not exist/);
  });

  it('strategic merge: Service ports merge on port, $patch delete, $setElementOrder, finalizers union', () => {
    const svc = { metadata: { finalizers: ['a'] }, spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }] } };
    const out = strategicMerge(
      svc,
      {
        metadata: { finalizers: ['b'] },
        spec: { '$setElementOrder/ports': [{ port: 443 }, { port: 80 }], ports: [{ port: 443, targetPort: 9443 }, { port: 8080, $patch: 'delete' }] },
      },
      'Service',
    );
    assert.deepEqual(out, {
      metadata: { finalizers: ['a', 'b'] },
      spec: { ports: [{ port: 443, targetPort: 9443 }, { port: 80, targetPort: 8080 }] },
    });
    const deleted = strategicMerge(svc, { spec: { ports: [{ port: 80, $patch: 'delete' }] } }, 'Service');
    assert.deepEqual(deleted, { metadata: { finalizers: ['a'] }, spec: { ports: [{ port: 443, targetPort: 8443 }] } });
  });
});

describe('label selectors', () => {
  const obj = (labels: Record<string, string>): KubeObject => ({ metadata: { labels } });
  it('supports =, ==, !=, in, notin, exists and !exists', () => {
    const s = parseLabelSelector('app=web,tier in (a, b),!legacy,env!=prod,team');
    assert.equal(s(obj({ app: 'web', tier: 'a', team: 'x' })), true);
    assert.equal(s(obj({ app: 'web', tier: 'c', team: 'x' })), false);
    assert.equal(s(obj({ app: 'web', tier: 'a', team: 'x', legacy: '' })), false);
    assert.equal(s(obj({ app: 'web', tier: 'a', team: 'x', env: 'prod' })), false);
    assert.equal(parseLabelSelector('x notin (1)')(obj({})), true);
    assert.throws(() => parseLabelSelector('a=(b'), /unable to parse/);
  });
});

describe('protobuf bodies', () => {
  // A tiny encoder for the test: tag + length-delimited payloads.
  const ld = (num: number, payload: Buffer | string): Buffer => {
    const b = Buffer.from(payload);
    return Buffer.concat([Buffer.from([(num << 3) | 2, b.length]), b]);
  };
  it('decodes a ConfigMap sent the way kubectl create configmap sends it', () => {
    const meta = Buffer.concat([ld(1, 'settings'), ld(2, ''), ld(3, 'default'), ld(11, Buffer.concat([ld(1, 'app'), ld(2, 'web')]))]);
    const raw = Buffer.concat([ld(1, meta), ld(2, Buffer.concat([ld(1, 'color'), ld(2, 'blue')])), ld(3, Buffer.concat([ld(1, 'bin'), ld(2, Buffer.from([0, 1, 2]))]))]);
    const unknown = Buffer.concat([ld(1, Buffer.concat([ld(1, 'v1'), ld(2, 'ConfigMap')])), ld(2, raw), ld(3, ''), ld(4, 'application/vnd.kubernetes.protobuf')]);
    const obj = decodeProtobuf(Buffer.concat([Buffer.from('k8s\0', 'binary'), unknown]));
    assert.deepEqual(obj, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'default', labels: { app: 'web' } },
      data: { color: 'blue' },
      binaryData: { bin: 'AAEC' },
    });
    assert.throws(() => decodeProtobuf(Buffer.from('nope')), /envelope/);
  });
});
