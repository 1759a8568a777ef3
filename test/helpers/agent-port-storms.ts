/**
 * Storms on the proxy's agent port that need a real SSH handshake each: guessing tokens
 * (a new connection per guess, as the proxy takes one `config` per connection), and
 * sessions that finish the handshake and then never send a config.
 */
import { randomBytes } from 'node:crypto';
import { connectRawAgent, rawConfig, type RawAgent } from './raw-agent.js';

export interface StormResult {
  readonly attempts: number;
  /** The proxy answered the config with a refusal (the guess was judged). */
  readonly judged: number;
  /** Refused before a config could be judged: HTTP refusal, closed during the handshake, or a throttle reply. */
  readonly refusedEarly: number;
  /** Timed out or failed otherwise. */
  readonly failed: number;
  /** The replies' texts, counted (e.g. "Unauthorized agent: wrong token …"). */
  readonly replies: ReadonlyMap<string, number>;
  readonly elapsedMs: number;
}

export interface StormOptions {
  readonly cluster: string;
  /** Stop after this many attempts or this long, whichever comes first. */
  readonly maxAttempts: number;
  readonly durationMs: number;
  readonly concurrency: number;
  /** Source address of every guess (another 127.x address stands for another host). */
  readonly localAddress?: string;
  readonly attemptTimeoutMs?: number;
}

/** Guess tokens until the budget is spent; each guess is a fresh connection. */
export async function tokenStorm(proxyPort: number, options: StormOptions): Promise<StormResult> {
  const started = performance.now();
  const deadline = Date.now() + options.durationMs;
  const replies = new Map<string, number>();
  let attempts = 0;
  let judged = 0;
  let refusedEarly = 0;
  let failed = 0;
  const timeoutMs = options.attemptTimeoutMs ?? 5_000;

  const guess = async () => {
    let raw: RawAgent | undefined;
    try {
      raw = await connectRawAgent(proxyPort, { timeoutMs, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    } catch {
      refusedEarly += 1;
      return;
    }
    try {
      const reply = await raw.sendConfig(rawConfig({ name: options.cluster, token: randomBytes(16).toString('hex') }));
      const text = reply.ok ? '(accepted!)' : reply.message.replace(/"[^"]*"/g, '"…"');
      replies.set(text, (replies.get(text) ?? 0) + 1);
      if (/wrong token|not served/.test(reply.message)) judged += 1;
      else refusedEarly += 1;
    } catch {
      if (raw.isClosed()) refusedEarly += 1;
      else failed += 1;
    } finally {
      await raw.close().catch(() => {});
    }
  };

  const worker = async () => {
    while (attempts < options.maxAttempts && Date.now() < deadline) {
      attempts += 1;
      await guess();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { attempts, judged, refusedEarly, failed, replies, elapsedMs: performance.now() - started };
}

export interface SilentSessions {
  /** Sessions whose SSH handshake completed. */
  readonly established: number;
  /** Attempts the proxy refused or dropped before the handshake completed. */
  readonly refused: number;
  /** Of the established ones, how many the proxy has closed so far. */
  closedByProxy(): number;
  close(): Promise<void>;
}

/** Open `count` SSH sessions that never send a config (a few at a time). */
export async function silentSshSessions(proxyPort: number, count: number, concurrency = 20, timeoutMs = 5_000): Promise<SilentSessions> {
  const agents: RawAgent[] = [];
  let refused = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      try {
        agents.push(await connectRawAgent(proxyPort, { timeoutMs }));
      } catch {
        refused += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    established: agents.length,
    refused,
    closedByProxy: () => agents.filter((a) => a.isClosed()).length,
    close: async () => {
      await Promise.all(agents.map((a) => a.close().catch(() => {})));
    },
  };
}
