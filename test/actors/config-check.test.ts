/** Which agent configs the proxy admits, and the reasons it gives (never quoting a secret). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAgentConfig, tokensEqual } from '../../src/actors/proxy/config-check.js';
import type { AgentConfig } from '../../src/protocol/agent-config.js';
import type { ServedCluster } from '../../src/cluster-sources/cluster-source.js';

const alpha: ServedCluster = { name: 'alpha', token: 'right-token', kubernetesAPIServerPort: 6000, kubesphereAPIServerPort: 16000 };
const lookup = (name: string) => (name === 'alpha' ? alpha : undefined);
const config = (over: Partial<AgentConfig> = {}): AgentConfig => ({
  version: 'v1',
  name: 'alpha',
  token: 'right-token',
  kubernetesSvcHost: 'kubernetes.default.svc',
  kubeSphereSvcHost: 'ks-apiserver.kubesphere-system.svc',
  bearerToken: Buffer.from('sa-token'),
  ...over,
});

describe('checkAgentConfig', () => {
  it('admits the right token and fills in default ports', () => {
    const verdict = checkAgentConfig(config(), lookup);
    assert.ok(verdict.ok);
    assert.equal(verdict.kubernetesTarget, 'kubernetes.default.svc:443');
    assert.equal(verdict.kubesphereTarget, 'ks-apiserver.kubesphere-system.svc:80');
  });

  for (const [what, over, reason] of [
    ['an unknown cluster', { name: 'nope' }, /Unauthorized agent: cluster "nope" is not served/],
    ['a wrong token', { token: 'wrong-token' }, /Unauthorized agent: wrong token/],
    ['an empty token', { token: '' }, /wrong token/],
    ['a service host with a path', { kubernetesSvcHost: 'https://x/y' }, /KubernetesSvcHost/],
    ['no credentials', { bearerToken: undefined }, /no credentials/],
    ['a certificate that is not PEM', { bearerToken: undefined, certData: Buffer.from('junk'), keyData: Buffer.from('junk') }, /not a valid PEM/],
  ] as const) {
    it(`refuses ${what} with a reason that names no secret`, () => {
      const verdict = checkAgentConfig(config(over as Partial<AgentConfig>), lookup);
      assert.equal(verdict.ok, false);
      if (verdict.ok) return;
      assert.match(verdict.reason, reason);
      for (const secret of ['right-token', 'wrong-token', 'sa-token']) assert.ok(!verdict.reason.includes(secret));
    });
  }

  it('compares tokens by content and never admits an empty expected token', () => {
    assert.equal(tokensEqual('abc', 'abc'), true);
    assert.equal(tokensEqual('abc', 'abd'), false);
    assert.equal(tokensEqual('abc', 'abcd'), false);
    assert.equal(tokensEqual('', ''), false);
  });
});
