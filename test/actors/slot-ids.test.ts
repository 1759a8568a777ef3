/** Channel ids are reused, so xstate's per-event-type caches stay bounded (no leak per channel). */
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { describe, it } from 'node:test';
import type { InspectionEvent } from 'xstate';
import { SlotIds } from '../../src/actors/slot-ids.js';
import { startTunnelFixture } from '../helpers/tunnel-fixture.js';
import { nextEvent } from '../helpers/wait.js';

describe('SlotIds', () => {
  it('hands out the lowest free ids again after release', () => {
    const ids = new SlotIds('ch-');
    assert.deepEqual([ids.take(), ids.take(), ids.take()], ['ch-0', 'ch-1', 'ch-2']);
    ids.release('ch-1');
    ids.release('ch-1'); // twice is harmless
    ids.release('other'); // not ours: ignored
    assert.equal(ids.take(), 'ch-1');
    assert.equal(ids.take(), 'ch-3');
  });

  it('the agent reuses channel ids across many channels in a row', async () => {
    const spawned = new Set<string>();
    const t = await startTunnelFixture();
    try {
      const agent = await t.addAgent({
        inspect: (event: InspectionEvent) => {
          const id = (event.actorRef as { id?: string }).id ?? '';
          if (event.type === '@xstate.actor' && /^ch-\d+$/.test(id)) spawned.add(id);
        },
      });
      await t.waitConnected(agent);
      await t.waitSessions(1);
      // Every upgrade takes a fresh channel that ends with the connection.
      for (let i = 0; i < 15; i++) {
        const socket = tlsConnect({ host: '127.0.0.1', port: t.kubePort, ca: t.proxyCa.certPem, cert: t.client.certPem, key: t.client.keyPem, servername: 'localhost' });
        await nextEvent(socket, 'secureConnect', 'TLS to the kube listener');
        socket.write('GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n');
        await nextEvent(socket, 'data', 'the 101');
        socket.end();
        await nextEvent(socket, 'close', 'the upgraded connection to close');
      }
      assert.ok(spawned.size >= 1, 'no channel seen');
      assert.ok(spawned.size <= 4, `channel ids keep growing: ${[...spawned].join(', ')}`);
    } finally {
      await t.close();
    }
  });
});
