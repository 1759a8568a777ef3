/**
 * The kubectl on PATH dispatches on /version: a devcluster that reports 1.27 or 1.33
 * gets that kubectl. 1.27 validates through the protobuf /openapi/v2 and uses
 * aggregated discovery v2beta1; 1.33 uses /openapi/v3 and discovery v2.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WIDGET_CRD, startHarness } from './helpers.js';

for (const version of ['1.27.16', '1.33.1']) {
  describe(`kubectl ${version}`, () => {
    it('gets nodes, creates a CRD and a custom resource from files, applies and patches', async () => {
      const h = await startHarness({ name: 'ver', kubernetesVersion: version });
      try {
        const minor = version.split('.')[1] as string;
        assert.match(await h.ok(['version', '--output=json']), new RegExp(`"clientVersion":[\\s\\S]*"minor": "${minor}"`));
        assert.match(await h.ok(['get', 'nodes']), new RegExp(`ver-control-plane\\s+Ready\\s+control-plane\\s+\\S+\\s+v${version.replace(/\./g, '\\.')}`));
        await h.ok(['create', '-f', await h.file('crd.yaml', WIDGET_CRD)]);
        const w = await h.file('w.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 1}\n');
        assert.match(await h.ok(['create', '-f', w]), /widget.example.com\/w1 created/);
        await h.ok(['patch', 'widget', 'w1', '--type', 'merge', '-p', '{"spec":{"size":4}}']);
        assert.match(await h.ok(['get', 'widgets']), /w1\s+4\s+/);
        const svc = await h.file('svc.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: default}\nspec: {ports: [{port: 80}]}\n');
        assert.match(await h.ok(['apply', '-f', svc]), /service\/s created/);
        assert.match(await h.ok(['create', 'configmap', 'cm', '--from-literal=a=b']), /configmap\/cm created/);
      } finally {
        await h.close();
      }
    });
  });
}
