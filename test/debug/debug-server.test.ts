/**
 * The inspector's HTTP server on 127.0.0.1: the page and its assets (no external URL), the
 * event stream (a snapshot, then batched updates), and what it refuses.
 */
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createActor, setup } from 'xstate';
import { startDebugServer, type DebugServer } from '../../src/debug/debug-server.js';

const machine = setup({}).createMachine({ id: 'toggle', initial: 'off', states: { off: { on: { flip: 'on' } }, on: { on: { flip: 'off' } } } });

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

function get(server: DebugServer, path: string, options: { method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.host ? { host: options.host } : {}, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer for ${path} within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** An event-stream reader: every `event:`/`data:` pair, parsed, and a bounded wait for one. */
function openStream(server: DebugServer) {
  const messages: Array<{ event: string; data: { actors?: Array<{ id: string; state: string }> } }> = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  const ready = new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/events' }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) messages.push({ event, data: JSON.parse(data) });
        }
        for (const waiter of waiters) waiter();
      });
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
  return {
    ready,
    messages,
    until(check: () => boolean, what: string): Promise<void> {
      return new Promise((resolve, reject) => {
        const waiter = () => {
          if (!check()) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        };
        const timer = setTimeout(() => (waiters.delete(waiter), reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(messages)}`))), 5000);
        waiters.add(waiter);
        waiter();
      });
    },
  };
}

describe('the inspector server', () => {
  let server: DebugServer;
  before(async () => {
    server = await startDebugServer({ host: '127.0.0.1', port: 0, processName: 'test' });
  });
  after(() => server.stop());

  it('serves the page, its script and stylesheet itself, with a strict content policy', async () => {
    const page = await get(server, '/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    for (const asset of ['/inspector.js', '/inspector.css']) {
      assert.ok(page.body.includes(asset.slice(1)), `the page loads ${asset}`);
      assert.equal((await get(server, asset)).status, 200);
    }
    for (const path of ['/', '/inspector.js', '/inspector.css']) {
      const { body } = await get(server, path);
      assert.doesNotMatch(body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${path} names no external URL`);
    }
  });

  it('streams a snapshot, then the changes', async () => {
    const stream = openStream(server);
    const res = await stream.ready;
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    await stream.until(() => stream.messages.some((m) => m.event === 'snapshot'), 'the snapshot');
    const actor = createActor(machine, { id: 'lamp', inspect: server.inspect }).start();
    actor.send({ type: 'flip' });
    await stream.until(
      () => stream.messages.some((m) => m.event === 'update' && m.data.actors?.some((a) => a.id === 'lamp' && a.state === 'on')),
      'lamp in state on',
    );
    actor.stop();
    res.destroy();
    const snapshot = JSON.parse((await get(server, '/snapshot.json')).body) as { actors: Array<{ id: string; status: string }> };
    assert.equal(snapshot.actors.find((a) => a.id === 'lamp')?.status, 'stopped');
  });

  it('refuses other methods, other host names and unknown paths', async () => {
    assert.equal((await get(server, '/', { method: 'POST' })).status, 405);
    assert.equal((await get(server, '/', { host: 'attacker.example' })).status, 421, 'DNS rebinding: a foreign Host is refused');
    assert.equal((await get(server, '/', { host: `localhost:${server.port}` })).status, 200);
    assert.equal((await get(server, '/etc/passwd')).status, 404);
  });

  it('holds at most 8 event streams', async () => {
    const streams = Array.from({ length: 8 }, () => openStream(server));
    const open = await Promise.all(streams.map((s) => s.ready));
    assert.ok(open.every((res) => res.statusCode === 200));
    assert.equal((await get(server, '/events')).status, 503);
    for (const res of open) res.destroy();
  });
});
