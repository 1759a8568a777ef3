/**
 * One agent connected to the proxy: the agent-session machine actor and its I/O. The SSH
 * side runs on an SshEngine (inline or in a data-plane thread); `openStream` is the whole
 * request path into the tunnel: it spawns a channel actor whose `io` asks the engine for
 * the channel and hands the stream to the caller.
 */
import type { Duplex } from 'node:stream';
import { createActor, toPromise, type InspectionEvent } from 'xstate';
import type { ServedCluster } from '../../cluster-sources/cluster-source.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import {
  agentSessionMachine,
  type AgentSessionEvent,
  type AgentSessionOutput,
  type SessionIo,
  type SshCommand,
} from '../../machines/agent-session.js';
import type { ChannelIo } from '../../machines/channel.js';
import { describeAgentConfig } from '../../protocol/agent-config.js';
import { SlotIds } from '../slot-ids.js';
import { ChannelNotOpened } from '../http/channel-errors.js';
import type { AuthThrottle } from './auth-throttle.js';
import { checkConfigPayload, type AcceptedConfig, type ConfigVerdict } from './config-check.js';
import type { SessionTransport, SshEngine } from './ssh-engine.js';
import { readingTime } from './loop-clock.js';

export interface SessionLimits {
  readonly handshakeTimeoutMs: number;
  readonly configTimeoutMs: number;
  /** Time the agent has to answer a channel open. */
  readonly channelOpenTimeoutMs: number;
  /** Time the failure reply has to reach a rejected agent before the close. */
  readonly rejectLingerMs: number;
  /** The SSH keepalive probe interval: an agent silent for longer (plus a reply's time) is suspect. */
  readonly keepaliveIntervalMs: number;
}

/** Time an agent has to answer a keepalive probe before it is suspected dead (at most half an interval). */
export const PROBE_REPLY_MS = 2_000;

export interface ProxySessionOptions {
  readonly id: string;
  readonly stream: Duplex;
  readonly remoteAddress: string;
  readonly engine: SshEngine;
  readonly limits: SessionLimits;
  /** The throttle's wait before the config is judged (an address that failed before). */
  readonly verdictDelayMs?: number;
  /** Failed authentications are told here instead of being logged one by one. */
  readonly throttle?: AuthThrottle;
  /** The clusters served now, by name. */
  readonly lookup: (name: string) => ServedCluster | undefined;
  readonly logger: Logger;
  readonly inspect?: (event: InspectionEvent) => void;
  /** The session reached `serving` (config accepted). */
  readonly onServing: (session: ProxySession) => void;
  /** The session left `serving`. */
  readonly onEnded: (session: ProxySession) => void;
}

export class ProxySession implements SessionIo {
  readonly id: string;
  readonly actor;
  /** How the session ended; settles once its machine is done. */
  readonly done: Promise<AgentSessionOutput>;
  readonly #options: ProxySessionOptions;
  readonly #log: Logger;
  readonly #channelIds = new SlotIds('ch-');
  #transport: SessionTransport | undefined;
  #accepted: AcceptedConfig | undefined;
  #attempted: string | undefined;
  #openChannels = 0;
  /** When the agent last sent anything (every SSH packet, keepalive replies included). */
  #lastHeard = readingTime();

  constructor(options: ProxySessionOptions) {
    this.id = options.id;
    this.#options = options;
    this.#log = options.logger;
    const { limits } = options;
    this.actor = createActor(agentSessionMachine, {
      id: `session:${options.id}`,
      input: {
        sessionId: options.id,
        remoteAddress: options.remoteAddress,
        handshakeTimeoutMs: limits.handshakeTimeoutMs,
        configTimeoutMs: limits.configTimeoutMs,
        rejectLingerMs: limits.rejectLingerMs,
        channelOpenTimeoutMs: limits.channelOpenTimeoutMs,
        io: this,
      },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.done = toPromise(this.actor).then(
      (output) => output,
      (error: unknown): AgentSessionOutput => {
        this.#log.error({ error: errorMessage(error) }, 'Agent session failed');
        return { clusterName: this.clusterName, code: 'disconnected', reason: errorMessage(error) };
      },
    );
    void this.done.then(({ clusterName, reason }) => {
      if (clusterName) this.#log.info({ cluster: clusterName, reason }, 'Agent disconnected');
      else this.#log.info({ remote: options.remoteAddress, reason }, 'Agent connection closed');
      this.actor.stop();
    });
  }

  start(): void {
    this.actor.start();
  }

  get clusterName(): string | undefined {
    return this.#accepted?.cluster.name;
  }
  /** The cluster a config named, accepted or not (for reports of rejected agents). */
  get attemptedCluster(): string | undefined {
    return this.#attempted;
  }
  /** The accepted config and its targets (undefined before the config was accepted). */
  get accepted(): AcceptedConfig | undefined {
    return this.#accepted;
  }
  get openChannels(): number {
    return this.#openChannels;
  }
  /**
   * Suspected dead: silent for longer than a keepalive interval and a probe's reply, counted
   * in time we spent reading (loop-clock.ts: our own stall is not its silence). New
   * requests go to another agent (or get a 503) instead of waiting for this one.
   */
  get suspect(): boolean {
    return readingTime() - this.#lastHeard > this.#suspectAfterMs;
  }

  /** Silence after which the agent is suspect: a keepalive interval and a probe's reply. */
  get #suspectAfterMs(): number {
    const interval = this.#options.limits.keepaliveIntervalMs;
    return interval + Math.min(PROBE_REPLY_MS, interval / 2);
  }

  /** A stream to `target` (one of the agent's two services) through a new channel actor. */
  openStream(target: string): Promise<Duplex> {
    const transport = this.#transport;
    if (!transport || !this.actor.getSnapshot().matches('serving')) return Promise.reject(new ChannelNotOpened('agent session is not serving'));
    return new Promise((resolve, reject) => {
      const id = this.#channelIds.take();
      const io = this.#channelIo(transport, target, id, resolve, reject);
      this.actor.send({ type: 'channel.requested', id, target, io });
    });
  }

  /** End the session (cluster removed, proxy stopping). */
  stop(reason: string): Promise<AgentSessionOutput> {
    this.actor.send({ type: 'stop', reason });
    return this.done;
  }

  /** SessionIo: the body of the machine's `ssh` actor. */
  runSsh({
    sendBack,
    receive,
  }: {
    sendBack: (event: AgentSessionEvent) => void;
    receive: (listener: (command: SshCommand) => void) => void;
  }): () => void {
    let released = false;
    const transport = this.#options.engine.start(this.#options.stream, {
      ready: () => sendBack({ type: 'ssh.ready' }),
      config: (payload, answer) => {
        // Judged at once (a failure counts even if the peer leaves early); told after the
        // throttle's wait, whatever the verdict, so the wait says nothing about it.
        const verdict = checkConfigPayload(payload, this.#options.lookup);
        this.#attempted = verdict.config?.name;
        if (!verdict.ok) this.#rejected(verdict);
        const tell = () => {
          if (released) return;
          if (!verdict.ok) {
            answer.reject(verdict.reason);
            sendBack({ type: 'config.rejected', reason: verdict.reason, code: verdict.code });
            return;
          }
          this.#accepted = verdict;
          answer.accept();
          sendBack({
            type: 'config.accepted',
            clusterName: verdict.cluster.name,
            allowedTargets: [verdict.kubernetesTarget, verdict.kubesphereTarget],
          });
        };
        const delay = this.#options.verdictDelayMs ?? 0;
        if (delay > 0) setTimeout(tell, delay).unref();
        else tell();
      },
      closed: (reason) => sendBack({ type: 'ssh.closed', reason }),
      log: (level, message, fields) => this.#log[level](fields, message),
    });
    this.#transport = transport;
    // After the engine took the stream: a listener of ours must not start the flow first.
    this.#options.stream.on('data', () => (this.#lastHeard = readingTime()));
    receive((command) => command.type === 'close' && transport.close());
    return () => {
      released = true;
      transport.release();
    };
  }

  /** A refused config: a guess (token, cluster) goes to the throttle, which logs it; anything else is logged here. */
  #rejected(verdict: Extract<ConfigVerdict, { ok: false }>): void {
    const remote = this.#options.remoteAddress;
    const guess = verdict.code === 'wrong_token' || verdict.code === 'unknown_cluster';
    if (guess && this.#options.throttle) {
      this.#options.throttle.failure(remote, { ...(verdict.config ? { cluster: verdict.config.name } : {}), reason: verdict.reason });
      return;
    }
    this.#log.warn({ remote, ...(verdict.config ? { agent: describeAgentConfig(verdict.config) } : {}), reason: verdict.reason }, 'Agent rejected');
  }

  /** SessionIo: tell the proxy the session started or stopped serving. */
  announce(serving: boolean): void {
    if (serving) this.#options.onServing(this);
    else this.#options.onEnded(this);
  }

  /** Inspectors serialize actor input; a session is named, not dumped. */
  toJSON(): string {
    return `ProxySession ${this.id}`;
  }

  /**
   * The I/O of one channel actor: open through the transport and resolve the caller with
   * the stream; report its close; reject the caller when the open is refused, fails, times
   * out or the session ends first (the open actor's signal aborts).
   */
  #channelIo(transport: SessionTransport, target: string, id: string, resolve: (s: Duplex) => void, reject: (e: Error) => void): ChannelIo {
    let stream: Duplex | undefined;
    const release = () => setImmediate(() => this.#channelIds.release(id)); // once the machine stopped the child
    return {
      open: (signal) =>
        new Promise<void>((opened, failed) => {
          let watch: NodeJS.Timeout | undefined;
          const abandon = () => {
            clearTimeout(watch);
            reject(new ChannelNotOpened('agent session ended before the channel opened'));
          };
          signal.addEventListener('abort', abandon, { once: true });
          // An agent that falls silent while we wait is suspect: give the request to another.
          const watchSilence = () => {
            watch = setTimeout(() => (this.suspect ? failed(new ChannelNotOpened('agent went silent (suspected dead)')) : watchSilence()), this.#suspectAfterMs / 2);
            watch.unref();
          };
          watchSilence();
          transport.openChannel(target, (error, channel) => {
            clearTimeout(watch);
            signal.removeEventListener('abort', abandon);
            if (error || !channel) return failed(new Error(`agent refused the channel to ${target}: ${error?.message ?? 'no reason given'}`));
            if (signal.aborted) return void channel.destroy();
            stream = channel;
            this.#openChannels += 1;
            resolve(channel);
            opened();
          });
        }),
      // The HTTP client owns the stream now; the channel ends when it closes.
      pipe: (done) => {
        const channel = stream!;
        const onClose = () => done({ bytesIn: 0, bytesOut: 0 });
        if (channel.destroyed) queueMicrotask(onClose);
        else channel.once('close', onClose);
        return () => {
          channel.off('close', onClose);
          channel.destroy(); // the session ended under it
          this.#openChannels -= 1;
          release();
        };
      },
      refuse: (reason) => {
        reject(new ChannelNotOpened(reason));
        release();
      },
    };
  }
}
