/**
 * Agent side of `kubesphere` channels: the proxy asks, the channel machine decides, and
 * these actors dial the target inside the member cluster and pipe bytes both ways.
 * A channel is accepted on the SSH side only once the target answered, so the proxy
 * sees a refused or unreachable target as a failed channel open, not as an empty stream.
 *
 * A proxy may ask for any number of channels at once: beyond `maxChannels` open or being
 * opened, opens are refused at once with SSH's "resource shortage" and a description;
 * of those admitted, at most `maxDials` dial at a time and the others wait their turn
 * (dial-slots.ts). A burst thus costs at most `maxChannels` sockets and never lingers.
 */
import { connect, type Socket } from 'node:net';
import type { ClientChannel } from 'ssh2';
import { fromCallback, fromPromise } from 'xstate';
import type { Logger } from '../../log.js';
import { channelMachine, type ChannelEvent } from '../../machines/channel.js';
import { parseHostPort } from '../../protocol/host-port.js';
import { pipeStreams } from '../pipe-streams.js';
import { SlotIds } from '../slot-ids.js';
import { DialSlots } from './dial-slots.js';
import { RefusalLog } from './refusal-log.js';

interface PendingChannel {
  readonly accept: () => ClientChannel;
  readonly reject: () => void;
}

interface LiveChannel {
  readonly channel: ClientChannel;
  readonly socket: Socket;
}

/** `--max-channels`: channels open or being opened per session. Generous for kubectl and ks-apiserver. */
export const DEFAULT_MAX_CHANNELS = 1000;
/**
 * `--max-dials`: dials to the member's services in flight; more wait (up to the dial
 * timeout). A dial inside the cluster answers in about a millisecond, so 128 at once
 * still opens tens of thousands of channels a second; against a target that does not
 * answer it caps the half-open sockets (each then waits out the 10 s dial timeout).
 */
export const DEFAULT_MAX_DIALS = 128;
/** SSH_OPEN_RESOURCE_SHORTAGE (RFC 4254 §5.1). */
export const OPEN_RESOURCE_SHORTAGE = 4;
/** Refusals are logged once when they start, then summed up at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface AgentChannelOptions {
  readonly dialTimeoutMs: number;
  readonly maxChannels: number;
  readonly maxDials: number;
  readonly logger: Logger;
}

/** The channels of one agent process, shared by its session and channel actors. */
export class AgentChannels {
  readonly #pending = new Map<string, PendingChannel>();
  readonly #live = new Map<string, LiveChannel>();
  readonly #ids = new SlotIds('ch-');
  readonly #refusals: RefusalLog;
  readonly #dials: DialSlots;

  constructor(private readonly options: AgentChannelOptions) {
    this.#dials = new DialSlots(options.maxDials, options.dialTimeoutMs);
    this.#refusals = new RefusalLog(options.logger, REFUSAL_LOG_INTERVAL_MS);
  }

  /**
   * Refuse a channel open at once (resource shortage) when `maxChannels` are open or
   * being opened; returns whether it did. The first refusal is logged, later ones are
   * summed up every 10 s.
   */
  refuseOverLimit(reject: (reason: number, description: string) => void): boolean {
    const { maxChannels } = this.options;
    const channels = this.#pending.size + this.#live.size;
    if (channels < maxChannels) return false;
    const reason = `agent has ${channels} channels open or opening, its limit (--max-channels ${maxChannels})`;
    reject(OPEN_RESOURCE_SHORTAGE, reason);
    this.#refusals.note(reason);
    return true;
  }

  /** Park an incoming channel open; returns the id the channel actor will use. */
  park(accept: () => ClientChannel, reject: () => void): string {
    const id = this.#ids.take();
    this.#pending.set(id, { accept, reject });
    return id;
  }

  /** Refuse everything still pending and drop live pairs (the session ended). */
  clear(): void {
    this.#refusals.flush();
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
          const socket = await this.#dials.run(signal, () => this.#dial(input.target, signal));
          const pending = this.#pending.get(input.id);
          this.#pending.delete(input.id);
          if (!pending) {
            socket.destroy();
            throw new Error('session ended before the channel opened');
          }
          this.#live.set(input.id, { channel: pending.accept(), socket });
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

  #dial(target: string, signal: AbortSignal): Promise<Socket> {
    const address = parseHostPort(target);
    if (!address) return Promise.reject(new Error(`target ${target} is not host:port`));
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.host, port: address.port });
      socket.setNoDelay(true);
      const timeoutMs = this.options.dialTimeoutMs;
      const timer = setTimeout(() => fail(new Error(`dial ${target}: no answer within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => fail(new Error(`dial ${target}: cancelled`));
      signal.addEventListener('abort', onAbort, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('error', fail);
      }
      function fail(error: Error) {
        done();
        socket.destroy();
        reject(new Error(error.message.startsWith('dial') ? error.message : `dial ${target}: ${error.message}`));
      }
      socket.once('error', fail);
      socket.once('connect', () => {
        done();
        resolve(socket);
      });
    });
  }
}
