/**
 * One agent connected to the proxy: the agent-session machine actor, its SSH side, and
 * the channel actors it spawns when the cluster gateway asks for a stream.
 */
import { Duplex } from 'node:stream';
import type { Connection, ServerChannel } from 'ssh2';
import { createActor, fromCallback, fromPromise, type InspectionEvent } from 'xstate';
import type { Logger } from '../../log.js';
import { agentSessionMachine } from '../../machines/agent-session.js';
import { channelMachine, type ChannelEvent } from '../../machines/channel.js';
import type { AgentConfig } from '../../protocol/agent-config.js';
import { CHANNEL_TYPE } from '../../protocol/constants.js';
import type { ConfigVerdict } from './config-check.js';
import { sessionSshLogic } from './session-ssh.js';

export interface ProxySessionOptions {
  readonly id: string;
  readonly stream: Duplex;
  readonly remoteAddress: string;
  readonly hostKey: Buffer;
  readonly logger: Logger;
  readonly verify: (config: AgentConfig) => ConfigVerdict;
  readonly handshakeTimeoutMs: number;
  readonly configTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  /** Limit for the agent to confirm a channel open. */
  readonly channelOpenTimeoutMs: number;
  readonly inspect?: (event: InspectionEvent) => void;
  /** The session reached `serving` (config accepted). */
  readonly onServing: (session: ProxySession) => void;
  /** The session left `serving` or ended before it. */
  readonly onEnded: (session: ProxySession) => void;
}

interface StreamRequest {
  resolve(channel: ServerChannel): void;
  reject(error: Error): void;
}

export class ProxySession {
  readonly id: string;
  readonly actor;
  #connection: Connection | undefined;
  #config: AgentConfig | undefined;
  #verdict: Extract<ConfigVerdict, { ok: true }> | undefined;
  readonly #requests = new Map<string, StreamRequest>();
  readonly #live = new Map<string, ServerChannel>();
  #nextChannel = 0;
  readonly done: Promise<void>;

  constructor(private readonly options: ProxySessionOptions) {
    this.id = options.id;
    const log = options.logger;
    const machine = agentSessionMachine.provide({
      actors: {
        ssh: sessionSshLogic({
          stream: options.stream,
          hostKey: options.hostKey,
          keepaliveIntervalMs: options.keepaliveIntervalMs,
          keepaliveCountMax: options.keepaliveCountMax,
          logger: log,
          verify: options.verify,
          onAccepted: (connection, config, verdict) => {
            this.#connection = connection;
            this.#config = config;
            this.#verdict = verdict;
          },
        }),
        channel: this.#channelMachine(),
      },
      actions: {
        announceServing: () => options.onServing(this),
        announceEnded: () => options.onEnded(this),
      },
    });
    this.actor = createActor(machine, {
      id: `session:${options.id}`,
      input: {
        sessionId: options.id,
        remoteAddress: options.remoteAddress,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        configTimeoutMs: options.configTimeoutMs,
        rejectLingerMs: 200,
      },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.done = new Promise((resolve) => {
      this.actor.subscribe({
        next: (s) => s.status === 'done' && resolve(),
        error: (error) => {
          log.error({ error: error instanceof Error ? error.message : String(error) }, 'Agent session failed');
          resolve();
        },
      });
    });
    void this.done.then(() => {
      const snapshot = this.actor.getSnapshot();
      const reason = snapshot.context.reason ?? 'closed';
      if (snapshot.context.clusterName) log.info({ cluster: snapshot.context.clusterName, reason }, 'Agent disconnected');
      else log.info({ remote: options.remoteAddress, reason }, 'Agent connection closed');
      this.#failRequests(new Error(`agent session ended: ${reason}`));
      this.actor.stop();
    });
  }

  start(): void {
    this.actor.start();
  }

  get clusterName(): string | undefined {
    return this.#verdict?.cluster.name;
  }
  get config(): AgentConfig | undefined {
    return this.#config;
  }
  get kubernetesTarget(): string | undefined {
    return this.#verdict?.kubernetesTarget;
  }
  get kubesphereTarget(): string | undefined {
    return this.#verdict?.kubesphereTarget;
  }
  get openChannels(): number {
    return this.#live.size;
  }

  /** Ask the agent for a stream to `target` (one of its two services). */
  openStream(target: string): Promise<Duplex> {
    if (!this.actor.getSnapshot().matches('serving')) {
      return Promise.reject(new Error('agent session is not serving'));
    }
    const id = `${this.id}/ch-${++this.#nextChannel}`;
    const opened = new Promise<ServerChannel>((resolve, reject) => this.#requests.set(id, { resolve, reject }));
    this.actor.send({ type: 'channel.requested', id, target });
    return opened;
  }

  /** End the session (cluster removed, proxy stopping). */
  stop(reason: string): Promise<void> {
    this.actor.send({ type: 'stop', reason });
    return this.done;
  }

  #failRequests(error: Error): void {
    for (const request of this.#requests.values()) request.reject(error);
    this.#requests.clear();
    for (const channel of this.#live.values()) channel.destroy();
    this.#live.clear();
  }

  #channelMachine() {
    return channelMachine.provide({
      actors: {
        open: fromPromise<void, { id: string; target: string }>(({ input }) =>
          new Promise<void>((resolve, reject) => {
            const connection = this.#connection;
            if (!connection) return reject(new Error('agent session is not serving'));
            const timer = setTimeout(
              () => reject(new Error(`agent did not answer the channel open within ${this.options.channelOpenTimeoutMs} ms`)),
              this.options.channelOpenTimeoutMs,
            );
            connection.openCustomChannel(CHANNEL_TYPE, Buffer.from(input.target, 'latin1'), (error, channel) => {
              clearTimeout(timer);
              if (error) return reject(new Error(`agent refused the channel to ${input.target}: ${openFailure(error)}`));
              const request = this.#requests.get(input.id);
              this.#requests.delete(input.id);
              if (!request) {
                channel.destroy();
                return reject(new Error('nobody waits for this channel any more'));
              }
              this.#live.set(input.id, channel);
              request.resolve(trulyDestroyable(channel));
              resolve();
            });
          }),
        ),
        // The HTTP client owns the stream now; the actor lives until it closes.
        pipe: fromCallback<ChannelEvent, { id: string }>(({ input, sendBack }) => {
          const channel = this.#live.get(input.id);
          if (!channel) {
            sendBack({ type: 'pipe.done', bytesIn: 0, bytesOut: 0, error: 'channel vanished' });
            return;
          }
          const onClose = () => sendBack({ type: 'pipe.done', bytesIn: 0, bytesOut: 0 });
          channel.once('close', onClose);
          return () => {
            channel.off('close', onClose);
            this.#live.delete(input.id);
          };
        }),
      },
      actions: {
        refuse: ({ context }) => {
          const request = this.#requests.get(context.id);
          this.#requests.delete(context.id);
          request?.reject(new Error(context.reason ?? 'channel refused'));
        },
      },
    });
  }
}

/**
 * ssh2's Channel#destroy() only ends and closes the SSH channel: it never marks the
 * stream destroyed, and a server channel then emits 'close' only after someone read the
 * rest of its data. A consumer that destroys it mid-response (a TLS socket or HTTP client
 * whose client went away) reads nothing more, so 'close' never came and the channel
 * stayed in the session's books. Make destroy() also destroy the Node stream (dropping
 * unread data), so the peer's CHANNEL_CLOSE ends it.
 */
function trulyDestroyable(channel: ServerChannel): ServerChannel {
  const sshDestroy = channel.destroy.bind(channel);
  let closeEmitted = false;
  channel.once('close', () => (closeEmitted = true));
  channel.destroy = function destroy(this: ServerChannel) {
    if (this.destroyed) return this;
    // ssh2 already saw the channel close (the agent's CHANNEL_CLOSE, or the connection
    // died) and may be holding its 'close' until an 'end' that a destroyed stream never emits.
    const sshClosed = (this as unknown as { incoming: { state: string } }).incoming.state === 'closed';
    sshDestroy();
    // As ssh2's own destroy, ignore an error argument: no new 'error' event for consumers.
    Duplex.prototype.destroy.call(this);
    if (sshClosed) process.nextTick(() => closeEmitted || this.emit('close'));
    return this;
  };
  return channel;
}

const OPEN_FAILURE_REASONS: Record<number, string> = {
  1: 'administratively prohibited',
  2: 'connect failed',
  3: 'unknown channel type',
  4: 'resource shortage',
};

/** ssh2 says "(SSH) Channel open failure: <description>"; ours sends no description, Go's does. */
function openFailure(error: Error & { reason?: unknown }): string {
  const description = error.message.replace(/^\(SSH\) Channel open failure:\s*/, '').trim();
  return description || OPEN_FAILURE_REASONS[Number(error.reason)] || 'no reason given';
}
