/**
 * Agent side of `kubesphere` channels: the proxy asks, the channel machine decides, and
 * these actors dial the target inside the member cluster and pipe bytes both ways.
 * A channel is accepted on the SSH side only once the target answered, so the proxy
 * sees a refused or unreachable target as a failed channel open, not as an empty stream.
 */
import { connect, type Socket } from 'node:net';
import type { ClientChannel, ServerChannel } from 'ssh2';
import { fromCallback, fromPromise } from 'xstate';
import { channelMachine, type ChannelEvent } from '../../machines/channel.js';
import { parseHostPort } from '../../protocol/host-port.js';
import { pipeStreams } from '../pipe-streams.js';
import { trulyDestroyable } from '../proxy/ssh-channel.js';
import { SlotIds } from '../slot-ids.js';

interface PendingChannel {
  readonly accept: () => ClientChannel;
  readonly reject: () => void;
}

interface LiveChannel {
  readonly channel: ClientChannel;
  readonly socket: Socket;
}

/** The channels of one agent process, shared by its session and channel actors. */
export class AgentChannels {
  readonly #pending = new Map<string, PendingChannel>();
  readonly #live = new Map<string, LiveChannel>();
  readonly #ids = new SlotIds('ch-');

  /** `onDialError` hears why a target could not be dialled (once per message per 30 s). */
  constructor(
    private readonly dialTimeoutMs: number,
    private readonly onDialError: (message: string) => void = () => {},
  ) {}

  readonly #reported = new Map<string, number>();

  /** Park an incoming channel open; returns the id the channel actor will use. */
  park(accept: () => ClientChannel, reject: () => void): string {
    const id = this.#ids.take();
    this.#pending.set(id, { accept, reject });
    return id;
  }

  /** Refuse everything still pending and drop live pairs (the session ended). */
  clear(): void {
    for (const [id, pending] of this.#pending) {
      pending.reject();
      this.#release(id);
    }
    this.#pending.clear();
    for (const [id, live] of this.#live) {
      live.socket.destroy();
      live.channel.destroy();
      this.#release(id);
    }
    this.#live.clear();
  }

  get openCount(): number {
    return this.#live.size;
  }

  /** The channel machine with this side's I/O. */
  machine() {
    return channelMachine.provide({
      actors: {
        open: fromPromise<void, { id: string; target: string }>(async ({ input, signal }) => {
          const socket = await this.#dial(input.target, signal);
          const pending = this.#pending.get(input.id);
          this.#pending.delete(input.id);
          if (!pending) {
            socket.destroy();
            throw new Error('session ended before the channel opened');
          }
          // Destroying it must end the stream too, or a channel whose target closed first
          // never sees the proxy's close (ssh-channel.ts; Node 22+ pipes destroy it early).
          this.#live.set(input.id, { channel: trulyDestroyable(pending.accept() as unknown as ServerChannel) as unknown as ClientChannel, socket });
        }),
        pipe: fromCallback<ChannelEvent, { id: string }>(({ input, sendBack }) => {
          const live = this.#live.get(input.id);
          if (!live) {
            sendBack({ type: 'pipe.done', bytesIn: 0, bytesOut: 0, error: 'channel vanished' });
            return;
          }
          const abort = pipeStreams(live.channel, live.socket, (result) =>
            sendBack({ type: 'pipe.done', bytesIn: result.bytesAtoB, bytesOut: result.bytesBtoA, error: result.error }),
          );
          return () => {
            abort();
            this.#live.delete(input.id);
            this.#release(input.id);
          };
        }),
      },
      actions: {
        refuse: ({ context }) => {
          this.#pending.get(context.id)?.reject();
          this.#pending.delete(context.id);
          this.#release(context.id);
        },
      },
    });
  }

  /** Free an id once the parent has stopped its finished child (the next turn). */
  #release(id: string): void {
    setImmediate(() => this.#ids.release(id));
  }

  #report(message: string): void {
    const now = Date.now();
    if ((this.#reported.get(message) ?? 0) > now) return;
    if (this.#reported.size > 64) this.#reported.clear();
    this.#reported.set(message, now + 30_000);
    this.onDialError(message);
  }

  #dial(target: string, signal: AbortSignal): Promise<Socket> {
    const address = parseHostPort(target);
    if (!address) return Promise.reject(new Error(`target ${target} is not host:port`));
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.host, port: address.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => fail(new Error(`dial ${target}: no answer within ${this.dialTimeoutMs} ms`)), this.dialTimeoutMs);
      const onAbort = () => fail(new Error(`dial ${target}: cancelled`));
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('error', fail);
      };
      const fail = (error: NodeJS.ErrnoException) => {
        done();
        socket.destroy();
        // A name that does not resolve is a configuration mistake: say so, not "connect failed".
        const unresolved = error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN';
        const message = unresolved ? `cannot resolve ${address.host}` : error.message.startsWith('dial') ? error.message : `dial ${target}: ${error.message}`;
        if (unresolved) this.#report(message);
        reject(new Error(message));
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        done();
        resolve(socket);
      });
    });
  }
}
