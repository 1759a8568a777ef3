/**
 * Where an agent's SSH session runs. The proxy session sees the same three things either
 * way: hooks it is told through (ready, config, closed, log), a channel opener, and the
 * two endings. Inline, the SshServerSession runs on the main thread over the agent's
 * WebSocket stream; with `--data-plane-threads N` it runs in a worker thread
 * (ssh-engine-threads.ts).
 */
import type { Duplex } from 'node:stream';
import type { ChannelOpener } from '../../ssh/channel-opener.js';
import { SshServerSession, type ServerSessionHooks, type ServerSessionSpec } from '../../ssh/server-session.js';

/** One running session, as its proxy session drives it. */
export interface SessionTransport {
  readonly openChannel: ChannelOpener;
  /** End the session (SSH's DISCONNECT first); `hooks.closed` follows. */
  close(): void;
  /** The proxy session is done with it: end it if still running, hear nothing more. */
  release(): void;
}

export interface SshEngine {
  start(stream: Duplex, hooks: ServerSessionHooks): SessionTransport;
}

export function inlineEngine(spec: ServerSessionSpec): SshEngine {
  return {
    start(stream, hooks) {
      const session = new SshServerSession(stream, spec, hooks);
      return { openChannel: session.openChannel, close: () => session.close(), release: () => session.close() };
    },
  };
}
