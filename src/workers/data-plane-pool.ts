/**
 * The data plane in worker threads (`--data-plane-threads N`): N plain worker_threads
 * Workers, each running the SSH sessions of the agents assigned to it round-robin. The
 * agent's WebSocket stays on the main thread (Node cannot move a socket into a worker); its
 * bytes cross to the worker over a MessagePort per session, and each `kubesphere` channel
 * comes back over a MessagePort of its own (PortDuplex: transferred ArrayBuffers, credit
 * flow control).
 *
 * Not piscina: a session is a never-ending task that owns state in its thread and talks
 * both ways for its whole life, which a task queue (run → result) does not model; it
 * would also hide which thread holds which session, and a crash must end exactly those.
 *
 * A worker that dies ends its sessions with a reason naming it (their agents reconnect)
 * and is replaced; the proxy stays up. `stop()` terminates them all.
 */
import { once } from 'node:events';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { ChannelOpener } from '../ssh/channel-opener.js';
import type { ServerSessionHooks, ServerSessionSpec } from '../ssh/server-session.js';
import { errorMessage } from '../errors.js';
import { PortDuplex } from './port-duplex.js';
import type { FromDataPlane, ToDataPlane } from './data-plane-messages.js';

/** Most data-plane threads the flag accepts (named limit). */
export const MAX_DATA_PLANE_THREADS = 64;
/** How long a new worker may take to come up (named limit). */
const WORKER_START_TIMEOUT_MS = 10_000;
/** A worker that dies sooner than this after its start is replaced only after this long. */
const RESPAWN_PAUSE_MS = 1_000;

export interface DataPlanePoolOptions {
  readonly threads: number;
  readonly logger: Logger;
}

/** The main thread's end of one session in a worker. */
export interface WorkerSessionLink {
  /** The SSH connection's bytes: pipe the agent's WebSocket stream to and from this. */
  readonly socket: PortDuplex;
  /** The worker thread running the session. */
  readonly threadId: number;
  readonly openChannel: ChannelOpener;
  /** Ask the worker to end the session; `closed` follows. */
  close(): void;
  /** Hear nothing more from the session (its actor stopped); ends it if still running. */
  release(): void;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  threadId: number;
  startedAt: number;
  readonly sessions: Map<number, Entry>;
  respawn: NodeJS.Timeout | undefined;
}

interface Entry {
  /** Where the session runs; undefined when no worker was there to take it. */
  readonly slot: Slot | undefined;
  readonly worker: Worker | undefined;
  readonly hooks: ServerSessionHooks;
  readonly socket: PortDuplex;
  readonly opens: Map<number, (error: Error | undefined) => void>;
  ended: boolean;
  closeSent: boolean;
}

const WORKER_ENTRY = new URL('./data-plane-thread.js', import.meta.url);

export class DataPlanePool {
  readonly #log: Logger;
  readonly #slots: Slot[];
  #turn = 0;
  #nextSession = 0;
  #nextChannel = 0;
  #running = 0;
  #stopping = false;

  private constructor(options: DataPlanePoolOptions) {
    this.#log = options.logger.child({ component: 'data-plane' });
    this.#slots = Array.from({ length: options.threads }, (_, index) => ({
      index,
      worker: undefined,
      threadId: 0,
      startedAt: 0,
      sessions: new Map(),
      respawn: undefined,
    }));
  }

  /** Start `threads` workers and wait until each is up. */
  static async start(options: DataPlanePoolOptions): Promise<DataPlanePool> {
    const threads = options.threads;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_DATA_PLANE_THREADS) {
      throw new Error(`data-plane threads ${threads}: must be an integer in 1-${MAX_DATA_PLANE_THREADS}`);
    }
    const pool = new DataPlanePool(options);
    try {
      await Promise.all(pool.#slots.map((slot) => pool.#spawn(slot)));
    } catch (error) {
      await pool.stop();
      throw error;
    }
    pool.#log.info({ threads }, `SSH sessions run in ${threads} data-plane worker thread(s)`);
    return pool;
  }

  get threads(): number {
    return this.#slots.length;
  }
  /** Workers started and not yet exited. */
  get running(): number {
    return this.#running;
  }
  /** The current workers (tests crash one with `terminate()`). */
  get workers(): readonly Worker[] {
    return this.#slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
  }
  /** Sessions per worker, in slot order. */
  get sessionCounts(): readonly number[] {
    return this.#slots.map((slot) => slot.sessions.size);
  }

  /** Run a new session on the next worker (round-robin). */
  attach(spec: ServerSessionSpec, hooks: ServerSessionHooks): WorkerSessionLink {
    const slot = this.#nextSlot();
    const sid = ++this.#nextSession;
    const { port1, port2 } = new MessageChannel();
    const socket = new PortDuplex(port1);
    const worker = slot?.worker;
    const entry: Entry = { slot, worker, hooks, socket, opens: new Map(), ended: false, closeSent: false };
    /** To the session's worker while it lives (a replacement thread knows nothing of it). */
    const post = (message: ToDataPlane, transfer: readonly MessagePort[] = []) => {
      if (worker && slot?.worker === worker) worker.postMessage(message, [...transfer]);
    };
    if (slot && worker) {
      slot.sessions.set(sid, entry);
      const hostKey = new Uint8Array(spec.hostKey);
      worker.postMessage(
        {
          t: 'session',
          sid,
          socket: port2,
          hostKey,
          keepaliveIntervalMs: spec.keepaliveIntervalMs,
          keepaliveCountMax: spec.keepaliveCountMax,
        } satisfies ToDataPlane,
        [port2, hostKey.buffer as ArrayBuffer],
      );
    } else {
      // Every worker is being replaced after a crash: this agent retries later.
      port2.close();
      entry.ended = true;
      queueMicrotask(() => hooks.closed('no data-plane worker thread is running (restarting after a crash); retry'));
    }
    // Sent even after the worker reported the session closed: it frees the session there.
    const closeSession = () => {
      if (entry.closeSent) return;
      post({ t: 'close', sid });
      entry.closeSent = true;
    };
    return {
      socket,
      threadId: worker?.threadId ?? 0,
      openChannel: (target, done) => {
        if (entry.ended) return done(new Error('agent session ended'));
        const ch = ++this.#nextChannel;
        const channel = new MessageChannel();
        const stream = new PortDuplex(channel.port1);
        entry.opens.set(ch, (error) => {
          if (!error) return done(undefined, stream);
          stream.destroy();
          done(error);
        });
        post({ t: 'open', sid, ch, target, port: channel.port2 }, [channel.port2]);
      },
      close: closeSession,
      release: () => {
        closeSession();
        this.#end(sid, entry, undefined);
      },
    };
  }

  /** Terminate every worker; their sessions should have been stopped first. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const exits: Promise<unknown>[] = [];
    for (const slot of this.#slots) {
      clearTimeout(slot.respawn);
      slot.respawn = undefined;
      for (const [sid, entry] of slot.sessions) this.#end(sid, entry, 'proxy stopping');
      if (slot.worker) exits.push(slot.worker.terminate());
      slot.worker = undefined;
    }
    await Promise.all(exits);
  }

  #nextSlot(): Slot | undefined {
    for (let i = 0; i < this.#slots.length; i += 1) {
      const slot = this.#slots[(this.#turn + i) % this.#slots.length]!;
      if (slot.worker) {
        this.#turn = (slot.index + 1) % this.#slots.length;
        return slot;
      }
    }
    return undefined;
  }

  async #spawn(slot: Slot): Promise<void> {
    const worker = new Worker(WORKER_ENTRY, { name: `tower-data-plane-${slot.index}` });
    slot.worker = worker;
    // A Worker's threadId reads -1 once it exited: keep it for the crash report.
    const threadId = worker.threadId;
    slot.threadId = threadId;
    slot.startedAt = Date.now();
    this.#running += 1;
    let failure: Error | undefined;
    worker.on('message', (message: FromDataPlane) => this.#onMessage(slot, message));
    worker.on('error', (error) => (failure = error));
    worker.once('exit', (code) => {
      this.#running -= 1;
      this.#onExit(slot, worker, threadId, failure ? `crashed: ${failure.message}` : `exited with code ${code}`);
    });
    const timer = setTimeout(() => void worker.terminate(), WORKER_START_TIMEOUT_MS);
    try {
      await Promise.race([
        once(worker, 'online'),
        once(worker, 'exit').then(() => {
          throw new Error(`data-plane worker thread did not start: ${failure?.message ?? 'it exited'}`);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #onMessage(slot: Slot, message: FromDataPlane): void {
    const entry = slot.sessions.get(message.sid);
    if (!entry) return;
    switch (message.t) {
      case 'ready':
        return entry.hooks.ready();
      case 'config': {
        const post = (ok: boolean, text?: string) => {
          if (!entry.ended && slot.worker)
            slot.worker.postMessage({
              t: 'verdict',
              sid: message.sid,
              ok,
              ...(text === undefined ? {} : { message: text }),
            } satisfies ToDataPlane);
        };
        const payload = Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength);
        return entry.hooks.config(payload, { accept: () => post(true), reject: (text) => post(false, text) });
      }
      case 'opened': {
        const done = entry.opens.get(message.ch);
        entry.opens.delete(message.ch);
        return done?.(message.error === undefined ? undefined : new Error(message.error));
      }
      case 'log':
        return entry.hooks.log(message.level, message.message, message.fields);
      case 'closed':
        this.#failOpens(entry, 'agent session ended');
        entry.ended = true;
        return entry.hooks.closed(message.reason);
    }
  }

  #onExit(slot: Slot, worker: Worker, threadId: number, what: string): void {
    if (slot.worker !== worker) return; // stopped, or already replaced
    slot.worker = undefined;
    if (this.#stopping) return;
    const reason = `data-plane worker thread ${threadId} ${what}`;
    this.#log.error({ thread: threadId, sessions: slot.sessions.size }, `${reason}; ending its sessions and starting a new thread`);
    for (const [sid, entry] of slot.sessions) this.#end(sid, entry, reason);
    const pause = Date.now() - slot.startedAt < RESPAWN_PAUSE_MS ? RESPAWN_PAUSE_MS : 0;
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined;
      if (this.#stopping) return;
      this.#spawn(slot).catch((error: unknown) =>
        this.#log.error({ error: errorMessage(error) }, 'Cannot replace a data-plane worker thread'),
      );
    }, pause);
  }

  /** Forget a session; with a reason, tell its actor it is gone (worker died, pool stopping). */
  #end(sid: number, entry: Entry, reason: string | undefined): void {
    entry.slot?.sessions.delete(sid);
    this.#failOpens(entry, reason ?? 'agent session ended');
    const wasEnded = entry.ended;
    entry.ended = true;
    if (reason !== undefined) {
      entry.socket.destroy();
      if (!wasEnded) entry.hooks.closed(reason);
    }
  }

  #failOpens(entry: Entry, reason: string): void {
    const opens = [...entry.opens.values()];
    entry.opens.clear();
    for (const done of opens) done(new Error(reason));
  }
}
