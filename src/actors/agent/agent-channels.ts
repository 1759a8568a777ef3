/**
 * Agent side of `kubesphere` channels: the proxy asks, the channel machine decides, and
 * each channel's io dials the target inside the member cluster and pipes bytes both ways.
 * A channel is accepted on the SSH side only once the target answered, so the proxy
 * sees a refused or unreachable target as a failed channel open, not as an empty stream.
 */
import { connect, type Socket } from 'node:net';
import type { ClientChannel } from 'ssh2';
import type { ChannelIo } from '../../machines/channel.js';
import { parseHostPort } from '../../protocol/host-port.js';
import { pipeStreams } from '../pipe-streams.js';
import { SlotIds } from '../slot-ids.js';

/** The channels of one agent connection. */
export class AgentChannels {
  /** Channels asked for and not yet answered: refused if the connection ends first. */
  readonly #pending = new Map<string, () => void>();
  /** Open pairs, destroyed if the connection ends first. */
  readonly #live = new Map<string, { channel: ClientChannel; socket: Socket }>();
  readonly #ids = new SlotIds('ch-');

  /**
   * A channel the proxy asked for: its id and the io its channel actor drives. `accept` and
   * `reject` answer the SSH channel open (once).
   */
  park(target: string, accept: () => ClientChannel, reject: () => void): { id: string; io: ChannelIo } {
    const id = this.#ids.take();
    let answered = false;
    const refuse = () => {
      if (answered) return;
      answered = true;
      reject();
    };
    this.#pending.set(id, refuse);
    let pair: { channel: ClientChannel; socket: Socket } | undefined;
    const io: ChannelIo = {
      open: async (signal) => {
        const socket = await dial(target, signal);
        this.#pending.delete(id);
        if (answered) {
          socket.destroy();
          throw new Error('connection ended before the channel opened');
        }
        answered = true;
        pair = { channel: accept(), socket };
        this.#live.set(id, pair);
      },
      pipe: (done) => {
        const { channel, socket } = pair!;
        const abort = pipeStreams(channel, socket, (r) => done({ bytesIn: r.bytesAtoB, bytesOut: r.bytesBtoA, ...(r.error ? { error: r.error } : {}) }));
        return () => {
          abort();
          this.#live.delete(id);
          this.#release(id);
        };
      },
      refuse: () => {
        this.#pending.delete(id);
        refuse();
        this.#release(id);
      },
    };
    return { id, io };
  }

  /** Refuse everything still pending and drop live pairs (the connection ended). */
  clear(): void {
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
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port });
    socket.setNoDelay(true);
    const onAbort = () => fail(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    function done() {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', fail);
    }
    function fail(error: Error) {
      done();
      socket.destroy();
      reject(new Error(`dial ${target}: ${error.message}`));
    }
    socket.once('error', fail);
    socket.once('connect', () => {
      done();
      resolve(socket);
    });
  });
}
