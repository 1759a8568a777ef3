/**
 * Agent side of `kubesphere` channels: the proxy asks, the channel machine decides, and
 * each channel's io dials the target inside the member cluster and pipes bytes both ways.
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
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ChannelIo } from '../../machines/channel.js';
import { parseHostPort } from '../../protocol/host-port.js';
import { pipeStreams } from '../pipe-streams.js';
import { SlotIds } from '../slot-ids.js';
import { DialSlots } from './dial-slots.js';
import { trulyDestroyable } from '../../ssh/server-channel.js';
import { SpellLog } from './spell-log.js';
import { socketReady } from './socket-ready.js';
import type { MemberForwarder } from './member-forwarder.js';

/** `--max-channels`: channels open or being opened per session. Generous for kubectl and ks-apiserver. */
export const DEFAULT_MAX_CHANNELS = 1000;
/**
 * `--max-dials`: dials to the member's services in flight; more wait (up to the dial
 * timeout). A dial inside the cluster answers in about a millisecond, so 128 at once
 * still opens tens of thousands of channels a second; against a target that does not
 * answer it caps the half-open sockets (each then waits out the 10 s dial timeout).
 */
export const DEFAULT_MAX_DIALS = 128;
/** SSH_OPEN_CONNECT_FAILED (RFC 4254 §5.1). */
const OPEN_CONNECT_FAILED = 2;
/** SSH_OPEN_RESOURCE_SHORTAGE (RFC 4254 §5.1). */
export const OPEN_RESOURCE_SHORTAGE = 4;
/** Refusals are logged once when they start, then summed up at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Failed dials likewise (a target that is down fails every request that needs it). */
const DIAL_ERROR_LOG_INTERVAL_MS = 30_000;
/** Requests refused by the member-TLS rewriter likewise (a proxy that sends one likely sends more). */
const MALFORMED_LOG_INTERVAL_MS = 30_000;

export interface AgentChannelOptions {
  /** How long an admitted dial may wait for a slot (the channel machine bounds the dial itself). */
  readonly dialTimeoutMs: number;
  readonly maxChannels: number;
  readonly maxDials: number;
  readonly logger: Logger;
}

/** The channels of one agent connection. */
export class AgentChannels {
  /** Channels asked for and not yet answered: refused if the connection ends first. */
  readonly #pending = new Map<string, (why?: string) => void>();
  /** Open pairs, destroyed if the connection ends first. */
  readonly #live = new Map<string, { channel: ClientChannel; socket: Socket }>();
  readonly #ids = new SlotIds('ch-');
  readonly #refusals: SpellLog;
  readonly #dialErrors: SpellLog;
  readonly #malformed: SpellLog;
  readonly #dials: DialSlots;
  /** With member TLS: the channels to this target go over the forwarder's TLS connections. */
  #forwarding: { readonly target: string; readonly forwarder: MemberForwarder } | undefined;

  constructor(private readonly options: AgentChannelOptions) {
    this.#dials = new DialSlots(options.maxDials, options.dialTimeoutMs);
    this.#refusals = new SpellLog(options.logger, REFUSAL_LOG_INTERVAL_MS, {
      first: 'Refusing channels the proxy opens: resource shortage',
      more: 'Refused more channels: resource shortage',
    });
    this.#dialErrors = new SpellLog(options.logger, DIAL_ERROR_LOG_INTERVAL_MS, {
      first: 'Cannot reach a target in the member cluster',
      more: 'More dials to targets in the member cluster failed',
    });
    this.#malformed = new SpellLog(options.logger, MALFORMED_LOG_INTERVAL_MS, {
      first: 'Closed a channel: the proxy sent a request the agent does not forward to the kube-apiserver',
      more: 'Closed more channels for requests the agent does not forward',
    });
  }

  /** Member TLS was negotiated: channels to `target` (the kube-apiserver) go to `forwarder`. */
  forward(target: string, forwarder: MemberForwarder): void {
    this.#forwarding = { target, forwarder };
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

  /**
   * A channel the proxy asked for: its id and the io its channel actor drives. `accept` and
   * `reject` answer the SSH channel open (once).
   */
  park(
    target: string,
    accept: () => ClientChannel,
    reject: (reason?: number, description?: string) => void,
  ): { id: string; io: ChannelIo } {
    const id = this.#ids.take();
    let answered = false;
    // The description reaches the proxy's log ("agent refused the channel to …: why").
    const refuse = (why?: string) => {
      if (answered) return;
      answered = true;
      reject(OPEN_CONNECT_FAILED, why);
    };
    this.#pending.set(id, refuse);
    let pair: { channel: ClientChannel; socket: Socket } | undefined;
    const forwarder = this.#forwarding?.target === target ? this.#forwarding.forwarder : undefined;
    const connect = (signal: AbortSignal): Promise<Socket> => (forwarder ? forwarder.dial(signal) : dial(target, signal));
    const io: ChannelIo = {
      open: async (signal) => {
        const socket = await this.#dials
          .run(signal, () => connect(signal))
          .catch((error: unknown) => {
            if (!signal.aborted) this.#dialErrors.note(errorMessage(error));
            throw error;
          });
        this.#pending.delete(id);
        if (answered) {
          socket.destroy();
          throw new Error('connection ended before the channel opened');
        }
        answered = true;
        // Destroying it must end the stream too, or a channel whose target closed first
        // never sees the proxy's close (server-channel.ts; Node 22+ pipes destroy it early).
        pair = { channel: trulyDestroyable(accept()), socket };
        this.#live.set(id, pair);
      },
      pipe: (done) => {
        const { channel, socket } = pair!;
        const requests = forwarder?.requests();
        requests?.once('error', (error) => this.#malformed.note(error.message));
        const abort = pipeStreams(
          channel,
          socket,
          (r) => done({ bytesIn: r.bytesAtoB, bytesOut: r.bytesBtoA, ...(r.error ? { error: r.error } : {}) }),
          requests,
        );
        return () => {
          abort();
          this.#live.delete(id);
          this.#release(id);
        };
      },
      refuse: this.#refuser(id, refuse),
    };
    return { id, io };
  }

  /** ChannelIo.refuse: answer the open with the reason, and forget the channel. */
  #refuser(id: string, refuse: (why?: string) => void): ChannelIo['refuse'] {
    return (reason) => {
      this.#pending.delete(id);
      refuse(reason);
      this.#release(id);
    };
  }

  /** Refuse everything still pending and drop live pairs (the connection ended). */
  clear(): void {
    this.#refusals.flush();
    this.#dialErrors.flush();
    this.#malformed.flush();
    for (const [id, refuse] of this.#pending) {
      refuse();
      this.#release(id);
    }
    this.#pending.clear();
    for (const [id, live] of this.#live) {
      live.socket.destroy();
      live.channel.destroy();
      this.#release(id);
    }
    this.#live.clear();
    this.#forwarding = undefined;
  }

  get openCount(): number {
    return this.#live.size;
  }

  /** Free an id once the parent has stopped its finished child (the next turn). */
  #release(id: string): void {
    setImmediate(() => this.#ids.release(id));
  }
}

/** A TCP connection to `target`; the channel machine bounds the time (the signal aborts). */
function dial(target: string, signal: AbortSignal): Promise<Socket> {
  const address = parseHostPort(target);
  if (!address) return Promise.reject(new Error(`target ${target} is not host:port`));
  const socket = connect({ host: address.host, port: address.port });
  socket.setNoDelay(true);
  return socketReady(socket, 'connect', target, address.host, signal);
}
