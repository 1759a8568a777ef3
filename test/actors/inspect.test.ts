/**
 * `--inspect URL` against the real @statelyai/inspect server: every event our inspector
 * sends reaches the other WebSocket clients of that server (as the browser bridge would).
 *
 * The server (createInspectorServer) takes no host and listens on every interface; this
 * test only ever addresses it on 127.0.0.1.
 */
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { createInspectorServer } from '@statelyai/inspect/server';
import { WebSocket } from 'ws';
import { createActor, waitFor } from 'xstate';
import { ManagedChild } from '../../dev/demo/child.js';
import { connectInspector } from '../../src/actors/inspect.js';
import { freePort } from '../helpers/free-port.js';
import { channelMachine, type ChannelIo } from '../../src/machines/channel.js';

const WAIT_MS = 5_000;

interface Received {
  readonly type: string;
  readonly sessionId?: string;
  readonly name?: string;
  readonly definition?: string;
  readonly event?: { readonly type?: string };
  readonly snapshot?: { readonly value?: unknown; readonly status?: string };
}

/** Bounded wait for an emitter event; rejects with `what` on timeout or on an 'error' event. */
function once<T extends unknown[]>(emitter: WebSocket, event: 'open' | 'close', what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off('error', onError);
    };
    const onEvent = (...args: unknown[]) => {
      cleanup();
      resolve(args as T);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new Error(`${what}: ${error.message}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`));
    }, WAIT_MS);
    emitter.on(event, onEvent);
    emitter.on('error', onError);
  });
}

/** A plain WebSocket client of the inspector server that keeps every JSON message. */
async function connectReceiver(url: string) {
  const socket = new WebSocket(url);
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    messages.push(JSON.parse(data.toString()) as Received);
    for (const waiter of waiters) waiter();
  });
  await once(socket, 'open', `the receiver to connect to ${url}`);
  return {
    messages,
    /** Resolve once `check(messages)` holds; fail after WAIT_MS listing what came. */
    until(check: (all: readonly Received[]) => boolean, what: string): Promise<void> {
      if (check(messages)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const waiter = () => {
          if (!check(messages)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const got = messages.map((m) => `${m.type}${m.event?.type ? ` ${m.event.type}` : ''}`).join(', ');
          reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}; received: [${got}]`));
        }, WAIT_MS);
        waiters.add(waiter);
      });
    },
    async close(): Promise<void> {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = once(socket, 'close', 'the receiver to close');
      socket.close();
      await closed;
    },
  };
}

test('connectInspector sends @xstate.actor, @xstate.event and @xstate.snapshot of our machines to the inspector server', async (t) => {
  // Undone in reverse order: actor, inspector connection, receiver, server.
  const cleanups: (() => void | Promise<void>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const port = await freePort();
  const url = `ws://127.0.0.1:${port}`;
  const server = createInspectorServer({ port, autoOpen: false });
  cleanups.push(() => server.stop());

  const receiver = await connectReceiver(url);
  cleanups.push(() => receiver.close());

  const inspection = connectInspector(url);
  cleanups.push(() => inspection.stop());

  // The channel machine with stub I/O: opens at once, then the pipe reports it is done.
  const io: ChannelIo = {
    open: async () => {},
    pipe: (done) => {
      done({ bytesIn: 3, bytesOut: 4 });
      return () => {};
    },
    refuse: () => {},
  };
  const actor = createActor(channelMachine, {
    id: 'channel:inspect-test',
    input: { id: 'ch-1', target: '10.96.0.1:443', allowedTargets: ['10.96.0.1:443'], openTimeoutMs: 60_000, io },
    inspect: inspection.inspect,
  });
  cleanups.push(() => void actor.stop());
  actor.start();
  await waitFor(actor, (s) => s.status === 'done', { timeout: WAIT_MS });
  const sessionId = actor.sessionId;

  const mine = (all: readonly Received[]) => all.filter((m) => m.sessionId === sessionId);
  await receiver.until((all) => {
    const own = mine(all);
    return (
      own.some((m) => m.type === '@xstate.actor') &&
      own.some((m) => m.type === '@xstate.event') &&
      own.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'closed')
    );
  }, `@xstate.actor, @xstate.event and a closed @xstate.snapshot for ${sessionId}`);

  const own = mine(receiver.messages);
  const announced = own.find((m) => m.type === '@xstate.actor');
  assert.equal(announced?.name, 'channel:inspect-test', 'the actor is announced under its id');
  assert.equal((JSON.parse(announced?.definition ?? '{}') as { id?: string }).id, 'channel', 'with the machine definition');
  const eventTypes = own.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type);
  assert.ok(eventTypes.includes('pipe.done'), `pipe.done not among the inspected events: ${eventTypes.join(', ')}`);
  const values = own.filter((m) => m.type === '@xstate.snapshot').map((m) => m.snapshot?.value);
  assert.ok(values.includes('open'), `no snapshot in state open: ${JSON.stringify(values)}`);
  assert.equal(values.at(-1), 'closed');
  // The invoked open/pipe actors are inspected too.
  assert.ok(
    receiver.messages.some((m) => m.type === '@xstate.actor' && m.sessionId !== sessionId),
    'the channel machine children are not announced',
  );
});

test('an unreachable inspector neither blocks nor keeps the process alive after stop()', async () => {
  // In a process of its own: what keeps a process alive is whatever handle is left, and
  // only a process that has nothing else going on can show it by exiting by itself.
  const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const script = `
    import { createActor } from 'xstate';
    import { connectInspector } from ${module('../../src/actors/inspect.js')};
    import { channelMachine } from ${module('../../src/machines/channel.js')};
    const inspection = connectInspector('ws://127.0.0.1:1');
    const io = { open: async () => {}, pipe: () => () => {}, refuse: () => {} };
    // Events are kept (bounded) while the inspector is unreachable; nothing throws.
    const actor = createActor(channelMachine, {
      input: { id: 'x', target: 'a:1', allowedTargets: [], openTimeoutMs: 60_000, io },
      inspect: inspection.inspect,
    });
    actor.start();
    actor.stop();
    inspection.stop();
    process.stdout.write('stopped');
  `;
  const child = new ManagedChild({
    name: 'a process with an unreachable inspector',
    command: process.execPath,
    args: ['--input-type=module', '-e', script],
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  // The reconnect delay is 5 s: a process still alive after 4 s is held by something.
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([child.exited, new Promise<'alive'>((resolve) => (timer = setTimeout(() => resolve('alive'), 4_000)))]);
  clearTimeout(timer);
  await child.stop(0);
  assert.deepEqual(exit, { code: 0, signal: null }, `the process did not end by itself after stop(): ${child.output}`);
  assert.equal(child.output, 'stopped');
});
