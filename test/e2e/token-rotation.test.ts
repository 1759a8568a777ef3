/**
 * In-cluster, a rotated service-account token reaches the proxy: the agent connects again
 * with the new token before it retires the old connection (tower#65: the Go agent keeps
 * the first token until it expires).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTunnelFixture, type TunnelFixture } from '../helpers/tunnel-fixture.js';
import { MEMBER_TOKEN } from '../helpers/member-apiserver.js';

describe('service-account token rotation', () => {
  let t: TunnelFixture;
  before(async () => {
    t = await startTunnelFixture();
  });
  after(() => t.close());

  it('keeps the cluster reachable and uses the new token once it appears', async () => {
    const saDir = join(t.dir, 'serviceaccount');
    await mkdir(saDir);
    await writeFile(join(saDir, 'token'), `${MEMBER_TOKEN}\n`);
    await writeFile(join(saDir, 'ca.crt'), t.member.ca.certPem);
    const agent = await t.addAgent({
      credentials: { kind: 'in-cluster', serviceAccountDir: saDir, serviceHost: '127.0.0.1', servicePort: String(t.member.port) },
      tokenCheckIntervalMs: 20,
      rotationGraceMs: 50,
    });
    await t.waitConnected(agent);
    await t.waitSessions(1);
    assert.equal((await t.kubeGet('/version')).status, 200);
    assert.equal(t.member.seen.at(-1)?.authorization, `Bearer ${MEMBER_TOKEN}`);

    // The kubelet rotates the token: both are valid for a while.
    const rotated = 'rotated-sa-token-do-not-log';
    t.member.tokens.add(rotated);
    await writeFile(join(saDir, 'token'), `${rotated}\n`);
    // The new connection comes up beside the old one (make before break)…
    await t.waitSessions(2);
    // …and the old one is retired after its grace period.
    await t.waitSessions(1);
    t.member.tokens.delete(MEMBER_TOKEN); // the old token expires
    for (let i = 0; i < 4; i++) {
      assert.equal((await t.kubeGet('/version')).status, 200);
      assert.equal(t.member.seen.at(-1)?.authorization, `Bearer ${rotated}`);
    }
    assert.ok(agent.actor.getSnapshot().matches({ session: 'connected' }));
  });
});
