/**
 * A proxy that refuses the upgrade with `429 Too Many Requests` (a throttled address) or
 * `503` (a standby) says why and when to come back: the real bin/agent logs the proxy's
 * reason and waits at least the `Retry-After` it was given (capped at 15 min), instead of
 * knocking again on its own shorter backoff. A body that never ends, or a huge one, does
 * not hold the agent: it reads one line's worth.
 */
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { MAX_RETRY_AFTER_MS, retryDelay } from '../../src/machines/agent-connection.js';
import { retryAfter } from '../../src/actors/agent/refusal-response.js';
import { DEFAULT_BACKOFF } from '../../src/machines/backoff.js';
import { binAgentStand, upgradeStandIn } from '../helpers/bin-agent-stand.js';

describe('an agent told to come back later', { timeout: 60_000 }, () => {
  const stand = binAgentStand('tower-retry-after-');
  const startAgent = (port: number) => stand.startAgent(port, 'retry-after-token-0123456789');
  /** A "proxy" that answers every upgrade with `answer` (raw HTTP). */
  const refusingProxy = async (answer: (socket: Duplex) => void) => {
    const proxy = await upgradeStandIn(answer);
    stand.cleanup(proxy.close);
    return proxy;
  };

  it('429 with Retry-After: the reason is logged and the next attempt waits at least that long', async () => {
    const proxy = await refusingProxy((socket) =>
      socket.end(
        'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ntoo many failed authentications from this address; retry in 7 s\n',
      ),
    );
    const agent = startAgent(proxy.port);
    const line = await agent.waitLine((l) => l.json?.['msg'] === 'Connection error; retrying', 'the retry line');
    assert.equal(
      line.json!['reason'],
      'proxy answered HTTP 429 instead of upgrading to WebSocket: too many failed authentications from this address; retry in 7 s',
    );
    assert.ok(Number(line.json!['retryInMs']) >= 7_000, `waits the Retry-After: ${line.text}`);
  });

  it('a body that never ends does not hold the agent; an endless one is cut at a line', async () => {
    const slow = await refusingProxy((socket) =>
      socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nstandby'),
    );
    const huge = await refusingProxy((socket) =>
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n${'x'.repeat(1_000_000)}`),
    );
    for (const [proxy, expected] of [
      [slow, 'proxy answered HTTP 503 instead of upgrading to WebSocket: standby'],
      [huge, `proxy answered HTTP 503 instead of upgrading to WebSocket: ${'x'.repeat(512)}`],
    ] as const) {
      const agent = startAgent(proxy.port);
      const line = await agent.waitLine((l) => l.json?.['msg'] === 'Connection error; retrying', 'the retry line', 10_000);
      assert.equal(line.json!['reason'], expected);
      await agent.stop();
    }
  });

  it('Retry-After in seconds or as a date; the wait is the longer of it and the backoff, at most 15 min', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    assert.equal(retryAfter('120', now), 120_000);
    assert.equal(retryAfter('Sun, 06 Dec 2026 12:01:00 GMT', now), 60_000);
    assert.equal(retryAfter('soon', now), undefined);
    assert.equal(retryAfter(undefined, now), undefined);
    const backoff = DEFAULT_BACKOFF; // first retry: 0.5–1 s (jittered)
    const hurried = retryDelay({ failures: 1, backoff, retryAfterMs: 1 });
    assert.ok(hurried >= 500 && hurried <= 1_000, `a shorter Retry-After does not hurry the agent: ${hurried}`);
    assert.equal(retryDelay({ failures: 1, backoff, retryAfterMs: 60_000 }), 60_000);
    assert.equal(retryDelay({ failures: 1, backoff, retryAfterMs: 10 * 3600_000 }), MAX_RETRY_AFTER_MS);
  });
});
