/**
 * The inspector's hub fed by real xstate actors: states, parents and children, events with
 * the state they led to, ends; nothing outside the allow-list reaches its output; memory
 * stays within its limits whatever the event rate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assign, createActor, fromCallback, sendTo, setup, spawnChild, stopChild } from 'xstate';
import { InspectionHub, type ActorView } from '../../src/debug/inspection-hub.js';

const TOKEN = '6888951db2eef4323fd4f84d05f490be86af102f43e47c3c58e6a1ddc81cc253';
const KUBECONFIG = 'apiVersion: v1\nkind: Config\nusers: [{name: a, user: {token: kubeconfig-secret}}]';
const KEY = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKey\n-----END EC PRIVATE KEY-----';

const child = setup({
  types: { input: {} as { id: string; target: string }, context: {} as { id: string; target: string; token: string; reason?: string } },
}).createMachine({
  id: 'child',
  context: ({ input }) => ({ ...input, token: TOKEN }),
  initial: 'opening',
  states: {
    opening: { on: { open: 'open' } },
    open: { on: { close: { target: 'closed', actions: assign({ reason: 'client went away' }) } } },
    closed: { type: 'final' },
  },
});

type SpawnEvent = { type: 'spawn'; id: string; target: string };

const parent = setup({
  types: {
    context: {} as { token: string; kubeconfig: string; failures: number; lastError: string | undefined },
    events: {} as
      | { type: 'connect'; token: string; keyPem: string }
      | { type: 'spawn'; id: string; target: string }
      | { type: 'poke'; id: string; what: 'open' | 'close' }
      | { type: 'fail'; reason: string }
      | { type: `xstate.done.actor.${string}` },
  },
  actors: { child, io: fromCallback(() => () => {}) },
}).createMachine({
  id: 'parent',
  context: { token: TOKEN, kubeconfig: KUBECONFIG, failures: 0, lastError: undefined },
  invoke: { id: 'io', src: 'io' },
  initial: 'idle',
  on: {
    'xstate.done.actor.*': { actions: stopChild(({ event }) => event.type.slice('xstate.done.actor.'.length)) },
  },
  states: {
    idle: { on: { connect: 'connected' } },
    connected: {
      initial: 'serving',
      states: { serving: {} },
      on: {
        spawn: { actions: spawnChild('child', {
            id: ({ event }) => (event as SpawnEvent).id,
            input: ({ event }) => ({ id: (event as SpawnEvent).id, target: (event as SpawnEvent).target }),
          }), },
        poke: { actions: sendTo(({ event }) => event.id, ({ event }) => ({ type: event.what })) },
        fail: { target: 'idle', actions: assign({ failures: ({ context }) => context.failures + 1, lastError: ({ event }) => event.reason }) },
      },
    },
  },
});

const byId = (actors: readonly ActorView[], id: string) => actors.find((a) => a.id === id);

test('actors, states, parents, children and events as the machines run', () => {
  const hub = new InspectionHub();
  const actor = createActor(parent, { id: 'root', inspect: hub.inspect }).start();
  actor.send({ type: 'connect', token: TOKEN, keyPem: KEY });
  actor.send({ type: 'spawn', id: 'ch-1', target: 'kubernetes.default.svc:443' });
  actor.send({ type: 'poke', id: 'ch-1', what: 'open' });

  let actors = hub.snapshot().actors;
  const root = byId(actors, 'root')!;
  const ch = byId(actors, 'ch-1')!;
  assert.equal(root.machine, 'parent');
  assert.equal(root.state, 'connected.serving');
  assert.deepEqual(root.active, ['connected', 'connected.serving']);
  assert.equal(ch.parent, root.key);
  assert.ok(root.children.includes(ch.key), 'the channel is a child of the root');
  assert.ok(byId(actors, 'io'), 'the invoked callback actor is listed too');
  assert.equal(ch.state, 'open');
  assert.deepEqual(ch.context, { id: 'ch-1', target: 'kubernetes.default.svc:443' });
  const connect = root.events.find((e) => e.type === 'connect')!;
  assert.equal(connect.to, 'connected.serving', 'the event carries the state it led to');
  const spawn = root.events.find((e) => e.type === 'spawn')!;
  assert.deepEqual(spawn.fields, { id: 'ch-1', target: 'kubernetes.default.svc:443' });
  assert.equal(ch.events.find((e) => e.type === 'open')?.from, 'root', 'the sender is named');

  actor.send({ type: 'poke', id: 'ch-1', what: 'close' });
  actors = hub.snapshot().actors;
  const closed = byId(actors, 'ch-1')!;
  assert.equal(closed.status, 'done');
  assert.equal(closed.state, 'closed');
  assert.equal(closed.context['reason'], 'client went away');
  assert.equal(hub.counts.live, 2, 'root and io are live');

  actor.send({ type: 'fail', reason: 'proxy answered HTTP 503' });
  assert.deepEqual(byId(hub.snapshot().actors, 'root')!.context, { failures: 1, lastError: 'proxy answered HTTP 503' });

  actor.stop();
  const after = hub.snapshot();
  assert.equal(after.counts.live, 0, 'stopping the root ends it and its children');
  assert.equal(byId(after.actors, 'io')!.status, 'stopped');
  assert.ok(after.machines['parent'] && after.machines['child'], 'both machines are drawn');
});

test('no token, key or kubeconfig in anything the hub hands out', () => {
  const hub = new InspectionHub();
  const actor = createActor(parent, { id: 'root', inspect: hub.inspect }).start();
  actor.send({ type: 'connect', token: TOKEN, keyPem: KEY });
  actor.send({ type: 'spawn', id: `ch-${TOKEN}`, target: `secret-host:${TOKEN}` });
  actor.send({ type: 'fail', reason: `bad token ${TOKEN}` });
  const out = JSON.stringify([hub.snapshot(), hub.takeDelta()]);
  actor.stop();
  for (const secret of [TOKEN, 'kubeconfig-secret', 'PRIVATE KEY', 'MHcCAQEEIKey', TOKEN.slice(0, 32)]) {
    assert.ok(!out.includes(secret), `the hub's output holds ${secret.slice(0, 12)}…`);
  }
  assert.match(out, /bad token \[…\]/, 'a token quoted in an allowed field is masked');
});

test('deltas carry only what changed, and events only once', () => {
  const hub = new InspectionHub();
  let changes = 0;
  hub.onChange(() => (changes += 1));
  const actor = createActor(parent, { id: 'root', inspect: hub.inspect }).start();
  const first = hub.takeDelta()!;
  assert.ok(first.machines['parent'], 'a machine is sent with the first delta that has it');
  assert.equal(hub.takeDelta(), undefined, 'nothing changed since');
  actor.send({ type: 'connect', token: TOKEN, keyPem: KEY });
  const second = hub.takeDelta()!;
  assert.deepEqual(Object.keys(second.machines), []);
  assert.deepEqual(second.actors.map((a) => a.id), ['root']);
  assert.deepEqual(second.actors[0]!.events.map((e) => e.type), ['connect']);
  assert.ok(changes >= 2, 'listeners are told once per batch');
  actor.stop();
});

test('bounded: events per actor, live actors tracked, ended actors kept', () => {
  const hub = new InspectionHub({ liveLimit: 5, endedLimit: 3, eventsPerActor: 4 });
  const actor = createActor(parent, { id: 'root', inspect: hub.inspect }).start();
  actor.send({ type: 'connect', token: TOKEN, keyPem: KEY });
  for (let i = 0; i < 10_000; i += 1) actor.send({ type: 'fail', reason: `r${i}` }), actor.send({ type: 'connect', token: TOKEN, keyPem: KEY });
  assert.equal(byId(hub.snapshot().actors, 'root')!.events.length, 4);
  assert.equal(byId(hub.snapshot().actors, 'root')!.context['failures'], 10_000);

  hub.takeDelta();
  for (let i = 0; i < 10; i += 1) actor.send({ type: 'spawn', id: `ch-${i}`, target: 'a:1' });
  // root + io + 3 channels fill the 5 live slots; the other 7 are only counted.
  assert.equal(hub.counts.live, 5);
  assert.equal(hub.counts.untracked, 7);
  for (let i = 0; i < 10; i += 1) actor.send({ type: 'poke', id: `ch-${i}`, what: 'open' }), actor.send({ type: 'poke', id: `ch-${i}`, what: 'close' });
  const delta = hub.takeDelta()!;
  assert.equal(hub.counts.ended, 3);
  assert.equal(hub.counts.live, 2);
  assert.deepEqual(delta.removed, [], 'nothing ended was dropped yet: 3 ended, 3 kept');
  actor.stop();
  const last = hub.takeDelta()!;
  assert.equal(hub.counts.ended, 3, 'still at most 3 ended actors kept');
  assert.equal(last.removed.length, 2, 'the two oldest ended actors were dropped and reported');
});
