import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, type ActorRefFrom } from 'xstate';
import type { GatewayIo } from '../../src/machines/cluster-gateway.js';
import { clusterGatewaysMachine, spawnGateway } from '../../src/machines/cluster-gateways.js';
import { reach } from './stubs.js';

const RETRY = { minMs: 2_000, maxMs: 8_000, factor: 2 };

/** Binds at once; unbinding waits until the test lets it finish. */
function gatewayIo() {
  const unbinds: (() => void)[] = [];
  const io: GatewayIo = {
    listen: () => Promise.resolve(),
    unlisten: () => new Promise<void>((resolve) => unbinds.push(resolve)),
  };
  return { io, finishUnbind: () => unbinds.shift()?.() };
}

function start(parent: ActorRefFrom<typeof clusterGatewaysMachine>, cluster: string, io: GatewayIo) {
  const child = spawnGateway(parent, { clusterName: cluster, retry: RETRY, io });
  assert.equal(parent.getSnapshot().children[`gateway:${cluster}`], child, `gateway:${cluster} was spawned`);
  return child;
}

test('gateways are children of one parent, and one that ended is dropped from it', async () => {
  const parent = createActor(clusterGatewaysMachine).start();
  const a = gatewayIo();
  const first = start(parent, 'member-1', a.io);
  const second = start(parent, 'member-2', gatewayIo().io);
  assert.deepEqual(Object.keys(parent.getSnapshot().children).sort(), ['gateway:member-1', 'gateway:member-2']);
  await reach(first, (s) => s.matches('listening'));

  first.send({ type: 'cluster.remove' });
  a.finishUnbind();
  await reach(first, (s) => s.status === 'done');
  assert.deepEqual(Object.keys(parent.getSnapshot().children), ['gateway:member-2']);
  assert.equal(second.getSnapshot().status, 'active');
  parent.stop();
  assert.equal(second.getSnapshot().status, 'stopped');
});

test('a cluster added again while its old gateway is still closing keeps the new gateway', async () => {
  const parent = createActor(clusterGatewaysMachine).start();
  const old = gatewayIo();
  const before = start(parent, 'member-1', old.io);
  await reach(before, (s) => s.matches('listening'));
  before.send({ type: 'cluster.remove' }); // closing: its unbind is held

  const after = start(parent, 'member-1', gatewayIo().io);
  assert.notEqual(after, before);
  old.finishUnbind();
  await reach(before, (s) => s.status === 'done');
  assert.equal(parent.getSnapshot().children['gateway:member-1'], after, 'the new gateway is still a child');
  assert.equal(after.getSnapshot().status, 'active');
  await reach(after, (s) => s.matches('listening'));
  parent.stop();
});

test('a gateway that fails is dropped and the others go on (the parent does not fail with it)', async () => {
  const parent = createActor(clusterGatewaysMachine).start();
  const healthy = start(parent, 'member-1', gatewayIo().io);
  await reach(healthy, (s) => s.matches('listening'));
  // What the parent receives when a child fails; unhandled, it would fail the parent itself.
  parent.send({ type: 'xstate.error.actor.gateway:member-2', error: new Error('boom'), actorId: 'gateway:member-2' });
  assert.equal(parent.getSnapshot().status, 'active');
  assert.equal(healthy.getSnapshot().status, 'active');
  assert.deepEqual(Object.keys(parent.getSnapshot().children), ['gateway:member-1']);
  parent.stop();
});
