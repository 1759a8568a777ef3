/**
 * One agent connected to the proxy: the agent-session machine actor, its SSH side, and
 * the channel actors it spawns when the cluster gateway asks for a stream.
 */
import type { Duplex } from 'node:stream';
import { createActor, fromCallback, fromPromise, type InspectionEvent } from 'xstate';
import type { Logger } from '../../log.js';
import { agentSessionMachine } from '../../machines/agent-session.js';
import { channelMachine, type ChannelEvent } from '../../machines/channel.js';
import type { AgentConfig } from '../../protocol/agent-config.js';
import type { SshWorkerPool } from '../../workers/ssh-worker-pool.js';
import type { ChannelOpener } from './channel-opener.js';
import type { ConfigVerdict } from './config-check.js';
import { sessionSshLogic, type SessionSshDeps } from './session-ssh.js';
import { workerSessionSshLogic } from './worker-session-ssh.js';
import { SlotIds } from '../slot-ids.js';

/**
 * Where a session's SSH engine runs: on the main thread (`inline`), or in one of the
 * data-plane worker threads of `pool` (`--data-plane-threads N`). Only the `ssh` actor and
 * the transport of channel streams differ; the machines are the same.
 */
export type SessionEngine = { readonly kind: 'inline' } | { readonly kind: 'worker'; readonly pool: SshWorkerPool };

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
  /** Where the SSH engine runs; inline when not given. */
  readonly engine?: SessionEngine;
  /** The session reached `serving` (config accepted). */
  readonly onServing: (session: ProxySession) => void;
  /** The session left `serving` or ended before it. */
  readonly onEnded: (session: ProxySession) => void;
}

interface StreamRequest {
  resolve(channel: Duplex): void;
  reject(error: Error): void;
}

export class ProxySession {
  readonly id: string;
  readonly actor;
  #open: ChannelOpener | undefined;
  #config: AgentConfig | undefined;
  #verdict: Extract<ConfigVerdict, { ok: true }> | undefined;
  readonly #requests = new Map<string, StreamRequest>();
  readonly #live = new Map<string, Duplex>();
  readonly #channelIds = new SlotIds('ch-');
  readonly done: Promise<void>;

  constructor(private readonly options: ProxySessionOptions) {
    this.id = options.id;
    const log = options.logger;
    const sshDeps: SessionSshDeps = {
      stream: options.stream,
      hostKey: options.hostKey,
      keepaliveIntervalMs: options.keepaliveIntervalMs,
      keepaliveCountMax: options.keepaliveCountMax,
      logger: log,
      verify: options.verify,
      onAccepted: (open, config, verdict) => {
        this.#open = open;
        this.#config = config;
        this.#verdict = verdict;
      },
    };
    const engine = options.engine;
    const machine = agentSessionMachine.provide({
      actors: {
        ssh: engine?.kind === 'worker' ? workerSessionSshLogic({ ...sshDeps, pool: engine.pool }) : sessionSshLogic(sshDeps),
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
    const id = this.#channelIds.take();
    const opened = new Promise<Duplex>((resolve, reject) => this.#requests.set(id, { resolve, reject }));
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

  /** Free a channel id once the machine has stopped its finished child (the next turn). */
  #releaseChannelId(id: string): void {
    setImmediate(() => this.#channelIds.release(id));
  }

  #channelMachine() {
    return channelMachine.provide({
      actors: {
        open: fromPromise<void, { id: string; target: string }>(({ input }) =>
          new Promise<void>((resolve, reject) => {
            const open = this.#open;
            if (!open) return reject(new Error('agent session is not serving'));
            const timer = setTimeout(
              () => reject(new Error(`agent did not answer the channel open within ${this.options.channelOpenTimeoutMs} ms`)),
              this.options.channelOpenTimeoutMs,
            );
            open(input.target, (error, channel) => {
              clearTimeout(timer);
              if (error || !channel) return reject(new Error(`agent refused the channel to ${input.target}: ${error?.message ?? 'no reason given'}`));
              const request = this.#requests.get(input.id);
              this.#requests.delete(input.id);
              if (!request) {
                channel.destroy();
                return reject(new Error('nobody waits for this channel any more'));
              }
              this.#live.set(input.id, channel);
              request.resolve(channel);
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
            this.#releaseChannelId(input.id);
          };
        }),
      },
      actions: {
        refuse: ({ context }) => {
          const request = this.#requests.get(context.id);
          this.#requests.delete(context.id);
          request?.reject(new Error(context.reason ?? 'channel refused'));
          this.#releaseChannelId(context.id);
        },
      },
    });
  }
}
