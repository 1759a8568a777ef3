/**
 * One simulated agent: the real agent's wire (WebSocket `kubesphere-v1` → SSH with the
 * `SSH-kubesphere-v1-client` ident → `config` request → serving `kubesphere` channels),
 * without its state machines, so thousands fit in one process. It reconnects after any
 * drop with the real agent's jittered backoff until `close()`.
 *
 * Faults for soak runs: `kill()` drops the socket (reconnects), `stall()` stops reading
 * and answering (the socket is paused; nothing is sent) until `resume()`.
 */
import ssh2, { type Client as SshClient } from 'ssh2';
import { createWebSocketStream, WebSocket } from 'ws';
import { backoffDelay } from '../../src/machines/backoff.js';
import { CONFIG_REQUEST, IDENT_CLIENT, PING_REQUEST, SUBPROTOCOL } from '../../src/protocol/constants.js';
import '../../src/protocol/ssh2-extensions.js';
import { serveSimChannel } from './sim-channel.js';
import type { SimGate } from './sim-gate.js';
import type { ResolvedSimOptions } from './sim-options.js';
import { classifyReason, type SimStats } from './sim-stats.js';

// ssh2 is CommonJS: take its classes from the default export.
const { Client } = ssh2;

export type SimAgentState = 'idle' | 'queued' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface SimAgentDeps {
  readonly options: ResolvedSimOptions;
  readonly stats: SimStats;
  readonly gate: SimGate;
  /** Called whenever `connected` flips. */
  readonly onChange: () => void;
}

export class SimAgent {
  #state: SimAgentState = 'idle';
  #stalled = false;
  #failures = 0;
  #ws: WebSocket | undefined;
  #ssh: SshClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #cancelQueued: () => void = () => {};
  #releaseGate: () => void = () => {};
  /** Bumped per attempt: events of an older attempt are ignored. */
  #attempt = 0;
  readonly #channels = new Set<() => void>();

  constructor(
    readonly index: number,
    readonly clusterName: string,
    private readonly config: Buffer,
    private readonly deps: SimAgentDeps,
  ) {}

  get state(): SimAgentState {
    return this.#state;
  }
  get connected(): boolean {
    return this.#state === 'connected';
  }
  get stalled(): boolean {
    return this.#stalled;
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#queue();
  }

  /** Drop the connection as a network failure would; the agent reconnects after backoff. */
  kill(): void {
    if (this.#state === 'connecting' || this.#state === 'connected') this.#drop('killed');
  }

  /** A connected agent stops reading and answering (socket paused, no pings) until `resume()`. */
  stall(): void {
    if (this.#stalled || !this.#ws || this.#state !== 'connected') return;
    this.#stalled = true;
    this.#clearPing();
    this.#ws.pause();
  }

  resume(): void {
    if (!this.#stalled) return;
    this.#stalled = false;
    this.#ws?.resume();
    if (this.#state === 'connected') this.#schedulePing();
  }

  close(): void {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closed';
    this.#stalled = false;
    this.#cancelQueued();
    this.#teardown();
    if (wasConnected) this.#setConnected(false);
  }

  #queue(): void {
    this.#state = 'queued';
    this.#cancelQueued = this.deps.gate.enter((release) => {
      this.#cancelQueued = () => {};
      if (this.#state !== 'queued') return release();
      this.#releaseGate = release;
      this.#connect();
    });
  }

  #connect(): void {
    const { options, stats } = this.deps;
    const attempt = ++this.#attempt;
    const current = () => attempt === this.#attempt && this.#state !== 'closed';
    this.#state = 'connecting';
    stats.attempts += 1;
    const ws = new WebSocket(options.proxyUrl, SUBPROTOCOL, { perMessageDeflate: false, handshakeTimeout: options.handshakeTimeoutMs });
    this.#ws = ws;
    this.#timer = setTimeout(() => current() && this.#drop('handshake timeout'), options.handshakeTimeoutMs);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      if (current()) this.#drop(`HTTP ${res.statusCode}`);
    });
    ws.on('error', (error) => current() && this.#drop(error.message));
    ws.on('close', () => current() && this.#drop('closed'));
    ws.once('open', () => {
      if (!current()) return;
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {}); // reported through the WebSocket's own events
      const ssh = new Client();
      this.#ssh = ssh;
      ssh.on('ready', () => {
        ssh.globalRequest(CONFIG_REQUEST, this.config, (error, ok, reply) => {
          if (!current()) return;
          if (error) return this.#drop(`config: ${error.message}`);
          // As Go's agent: any reply text is a refusal, whatever the boolean says.
          const message = reply && reply.length > 0 ? reply.toString('utf8') : undefined;
          if (message || !ok) return this.#drop(`rejected: ${message ?? 'no reason'}`);
          clearTimeout(this.#timer);
          this.#releaseGate();
          this.#releaseGate = () => {};
          this.#failures = 0;
          this.#state = 'connected';
          stats.handshakes += 1;
          this.#setConnected(true);
          this.#schedulePing();
        });
      });
      ssh.on('custom channel', (info, accept, reject) => {
        if (!current()) return reject();
        serveSimChannel(info, accept, reject, {
          allowedTargets: options.allowedTargets,
          dialTimeoutMs: options.dialTimeoutMs,
          stats,
          live: this.#channels,
        });
      });
      ssh.on('error', (error) => current() && this.#drop(`SSH: ${error.message}`));
      ssh.on('close', () => current() && this.#drop('SSH closed'));
      ssh.connect({
        sock: stream,
        username: '',
        password: '',
        identRaw: IDENT_CLIENT,
        hostVerifier: () => true,
        readyTimeout: options.handshakeTimeoutMs,
        keepaliveInterval: 0,
      });
    });
  }

  #schedulePing(): void {
    const { keepaliveMs, pingTimeoutMs } = this.deps.options;
    if (keepaliveMs <= 0 || this.#stalled) return;
    this.#clearPing();
    this.#pingTimer = setTimeout(() => {
      const ssh = this.#ssh;
      if (!ssh || this.#state !== 'connected' || this.#stalled) return;
      const attempt = this.#attempt;
      this.#pingTimer = setTimeout(() => attempt === this.#attempt && !this.#stalled && this.#drop('ping timeout'), pingTimeoutMs);
      try {
        ssh.globalRequest(PING_REQUEST, undefined, (error) => {
          if (attempt !== this.#attempt || this.#state !== 'connected' || error) return;
          this.#schedulePing();
        });
      } catch {
        this.#drop('SSH connection lost');
      }
    }, keepaliveMs);
  }

  #clearPing(): void {
    clearTimeout(this.#pingTimer);
    this.#pingTimer = undefined;
  }

  /** End this attempt or connection, count why, and plan the next attempt. */
  #drop(reason: string): void {
    if (this.#state === 'closed' || this.#state === 'backoff') return;
    const wasConnected = this.#state === 'connected';
    this.deps.stats.disconnected(classifyReason(reason));
    this.#teardown();
    if (wasConnected) this.#setConnected(false);
    this.#failures += 1;
    this.#state = 'backoff';
    this.#timer = setTimeout(() => {
      if (this.#state === 'backoff') this.#queue();
    }, backoffDelay(this.#failures, this.deps.options.backoff));
  }

  #teardown(): void {
    this.#attempt += 1;
    clearTimeout(this.#timer);
    this.#clearPing();
    this.#releaseGate();
    this.#releaseGate = () => {};
    for (const abort of [...this.#channels]) abort();
    this.#channels.clear();
    const ssh = this.#ssh;
    this.#ssh = undefined;
    if (ssh) {
      ssh.removeAllListeners('close');
      ssh.on('error', () => {});
      ssh.end();
    }
    const ws = this.#ws;
    this.#ws = undefined;
    this.#stalled = false;
    ws?.terminate();
  }

  #setConnected(connected: boolean): void {
    this.deps.stats.connected += connected ? 1 : -1;
    this.deps.onChange();
  }
}
