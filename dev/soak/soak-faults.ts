/**
 * Faults of a soak run, each at a random but bounded rate: agent sockets killed, agents
 * stalled (they stop reading and answering; the proxy must drop them after its keepalive
 * probes, and they come back once resumed), bad-input probes against the agent port, and
 * proxy restarts (stop, a short pause, start on the same port).
 */
import type { SimAgents } from '../sim/index.js';
import { PROBE_KINDS, runProbe, type ProbeContext } from './soak-bad-inputs.js';
import { ProbeScope } from './soak-raw-agent.js';
import type { SoakProxy } from './soak-proxy.js';

const TICK_MS = 100;
/** Bad-input probes in flight at most. */
const MAX_PROBES = 8;
/** Unexpected outcomes kept verbatim (the rest are only counted). */
const MAX_NOTES = 20;
const START_ATTEMPTS = 3;

export interface FaultRates {
  readonly killsPerSecond: number;
  readonly stallsPerSecond: number;
  readonly badInputsPerSecond: number;
  readonly restartEveryMs: number;
}

export interface FaultResult {
  readonly kills: number;
  readonly stalls: number;
  /** Stalls that lasted their whole time with no proxy restart meanwhile. */
  readonly cleanStalls: number;
  readonly restarts: number;
  /** Bad-input probes by kind, then by result. */
  readonly probes: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Problems seen while injecting: unexpected probe results, leftovers of a stopped proxy. */
  readonly notes: readonly string[];
  readonly unexpectedProbes: number;
  readonly restartProblems: number;
}

export class FaultInjector {
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #started = 0;
  readonly #credit = { kill: 0, stall: 0, bad: 0 };
  readonly #stalled = new Map<number, { timer: NodeJS.Timeout; epoch: number }>();
  readonly #probes = new Set<ProbeScope>();
  readonly #probeDone = new Set<Promise<void>>();
  #restart: Promise<void> | undefined;
  #nextRestartAt = Infinity;
  #kills = 0;
  #stalls = 0;
  #cleanStalls = 0;
  #restarts = 0;
  #unexpected = 0;
  #restartProblems = 0;
  readonly #notes: string[] = [];
  readonly #probeResults = new Map<string, Map<string, number>>();

  constructor(
    private readonly deps: {
      readonly sims: SimAgents;
      readonly proxy: SoakProxy;
      readonly rates: FaultRates;
      readonly probe: ProbeContext;
      readonly random: () => number;
      readonly log: (line: string) => void;
    },
  ) {}

  start(): void {
    this.#started = performance.now();
    this.#last = this.#started;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#scheduleRestart();
  }

  /** No new faults; resume stalled agents, cancel probes, let a restart in progress finish. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#nextRestartAt = Infinity;
    for (const [i, stall] of this.#stalled) {
      clearTimeout(stall.timer);
      this.deps.sims.resume(i);
    }
    this.#stalled.clear();
    for (const scope of this.#probes) scope.cancel();
    await Promise.all([...this.#probeDone]);
    await this.#restart;
  }

  /** Agents stalled right now. */
  get stalled(): number {
    return this.#stalled.size;
  }

  result(): FaultResult {
    const probes: Record<string, Record<string, number>> = {};
    for (const [kind, results] of this.#probeResults) probes[kind] = Object.fromEntries(results);
    return {
      kills: this.#kills,
      stalls: this.#stalls,
      cleanStalls: this.#cleanStalls,
      restarts: this.#restarts,
      probes,
      notes: [...this.#notes],
      unexpectedProbes: this.#unexpected,
      restartProblems: this.#restartProblems,
    };
  }

  #tick(): void {
    const now = performance.now();
    const dt = Math.min(1, (now - this.#last) / 1000);
    this.#last = now;
    const { rates, proxy } = this.deps;
    const due = (key: 'kill' | 'stall' | 'bad', perSecond: number): number => {
      this.#credit[key] = Math.min(Math.max(1, perSecond), this.#credit[key] + dt * perSecond * 2 * this.deps.random());
      const n = Math.floor(this.#credit[key]);
      this.#credit[key] -= n;
      return n;
    };
    for (let n = due('kill', rates.killsPerSecond); n > 0; n--) this.#kill();
    // Stalls need a proxy whose keepalive drops them in a known time.
    const window = proxy.limits.keepaliveWindowMs;
    for (let n = due('stall', window ? rates.stallsPerSecond : 0); n > 0 && window; n--) this.#stall(window);
    for (let n = due('bad', rates.badInputsPerSecond); n > 0; n--) this.#probe();
    if (now >= this.#nextRestartAt && !this.#restart) {
      this.#nextRestartAt = Infinity;
      this.#restart = this.#restartProxy().finally(() => {
        this.#restart = undefined;
        this.#scheduleRestart();
      });
    }
  }

  /** A connected agent that is not stalled, or undefined after a few tries. */
  #pickAgent(): number | undefined {
    const { sims, random } = this.deps;
    for (let tries = 0; tries < 8; tries++) {
      const i = Math.floor(random() * sims.size);
      if (sims.isConnected(i) && !this.#stalled.has(i)) return i;
    }
    return undefined;
  }

  #kill(): void {
    const i = this.#pickAgent();
    if (i === undefined) return;
    this.deps.sims.kill(i);
    this.#kills += 1;
  }

  #stall(windowMs: number): void {
    const { sims, proxy, random } = this.deps;
    // At most 10 % of the fleet (at least one agent) stalled at a time.
    if (this.#stalled.size >= Math.max(1, Math.floor(sims.size / 10))) return;
    const i = this.#pickAgent();
    if (i === undefined) return;
    sims.stall(i);
    this.#stalls += 1;
    const epoch = proxy.epoch;
    const timer = setTimeout(() => {
      this.#stalled.delete(i);
      sims.resume(i);
      if (proxy.epoch === epoch) this.#cleanStalls += 1;
      // Long enough for the proxy's probes to give up (twice their window), and then some.
    }, windowMs * (2 + random()));
    this.#stalled.set(i, { timer, epoch });
  }

  #probe(): void {
    if (this.#probes.size >= MAX_PROBES) return;
    const kind = PROBE_KINDS[Math.floor(this.deps.random() * PROBE_KINDS.length)]!;
    const scope = new ProbeScope();
    this.#probes.add(scope);
    const done = runProbe(kind, this.deps.probe, scope).then((result) => {
      this.#probes.delete(scope);
      this.#probeDone.delete(done);
      const results = this.#probeResults.get(kind) ?? new Map<string, number>();
      this.#probeResults.set(kind, results);
      const key = result.startsWith('unexpected') ? 'unexpected' : result;
      results.set(key, (results.get(key) ?? 0) + 1);
      if (key === 'unexpected') {
        this.#unexpected += 1;
        this.#note(`bad input ${kind}: ${result}`);
      }
    });
    this.#probeDone.add(done);
  }

  #scheduleRestart(): void {
    const every = this.deps.rates.restartEveryMs;
    if (every > 0 && this.#timer !== undefined) this.#nextRestartAt = performance.now() + every * (0.75 + 0.5 * this.deps.random());
  }

  async #restartProxy(): Promise<void> {
    const { proxy, random, log } = this.deps;
    const started = performance.now();
    const left = await proxy.stop();
    this.#restarts += 1;
    if (left.sessions || left.gateways || left.channelsOpen) {
      this.#restartProblems += 1;
      this.#note(`restart ${this.#restarts}: the stopped proxy still held ${left.sessions} sessions, ${left.gateways} gateways, ${left.channelsOpen} channels`);
    }
    if (left.exitCode !== undefined && left.exitCode !== 0) {
      this.#restartProblems += 1;
      this.#note(`restart ${this.#restarts}: bin/proxy exited with ${left.exitCode} on SIGTERM`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100 + random() * 400));
    for (let attempt = 1; ; attempt++) {
      try {
        await proxy.start();
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (attempt >= START_ATTEMPTS) {
          this.#restartProblems += 1;
          this.#note(`restart ${this.#restarts}: the proxy did not start again: ${message}`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    log(`t=${((performance.now() - this.#started) / 1000).toFixed(1)} s: proxy restarted (${this.#restarts}) in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  }

  #note(line: string): void {
    const t = ((performance.now() - this.#started) / 1000).toFixed(1);
    if (this.#notes.length < MAX_NOTES) this.#notes.push(`t=${t} s: ${line}`);
  }
}
