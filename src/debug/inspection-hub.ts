/**
 * The debug page's view of the process: every actor xstate reports through the `inspect`
 * callback, with its machine, current state, parent and children, a secret-free context
 * summary (safe-fields.ts) and its recent events.
 *
 * Memory is bounded whatever the event rate: at most `liveLimit` live actors are tracked
 * (later ones are only counted), `endedLimit` ended ones are kept for a while, each keeps
 * its last `eventsPerActor` events, and every kept string is short. Each inspection event
 * costs O(1) work; the server reads changes in batches (`takeDelta`).
 */
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import { activePaths, machineGraph } from './machine-graph.js';
import { layoutMachine, type MachineLayout } from './machine-layout.js';
import { safeErrorMessage, safeFields, safeText, type SafeFields } from './safe-fields.js';

export interface HubLimits {
  readonly liveLimit: number;
  readonly endedLimit: number;
  readonly eventsPerActor: number;
  /** Distinct machine definitions drawn. */
  readonly machineLimit: number;
}

export const DEFAULT_LIMITS: HubLimits = { liveLimit: 1000, endedLimit: 200, eventsPerActor: 20, machineLimit: 64 };

export type ActorStatus = 'active' | 'done' | 'error' | 'stopped';

export interface EventRecord {
  /** Hub-wide sequence number: the page drops repeats by it. */
  readonly seq: number;
  readonly at: number;
  readonly type: string;
  /** The sender's actor id, when another actor sent it. */
  readonly from?: string;
  readonly fields?: SafeFields;
  /** The state the actor was in after it (machines only). */
  to?: string;
}

export interface ActorView {
  /** xstate's session id: unique in the process. */
  readonly key: string;
  readonly id: string;
  readonly parent?: string;
  /** The machine id, for actors running a state machine. */
  readonly machine?: string;
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly status: ActorStatus;
  /** Paths of the active states (machines only). */
  readonly active: readonly string[];
  /** The active leaf states, joined: `session.connected.idle`. */
  readonly state: string;
  readonly context: SafeFields;
  readonly children: readonly string[];
  readonly events: readonly EventRecord[];
}

export interface HubCounts {
  readonly live: number;
  readonly ended: number;
  /** Actors seen while `liveLimit` were tracked: counted, not shown. */
  readonly untracked: number;
  readonly events: number;
}

export interface HubSnapshot {
  readonly machines: Readonly<Record<string, MachineLayout>>;
  readonly actors: readonly ActorView[];
  readonly counts: HubCounts;
}

export interface HubDelta {
  readonly machines: Readonly<Record<string, MachineLayout>>;
  /** Changed actors, each with only the events added since the last delta. */
  readonly actors: readonly ActorView[];
  /** Keys of ended actors no longer kept. */
  readonly removed: readonly string[];
  readonly counts: HubCounts;
}

interface Tracked {
  readonly key: string;
  readonly id: string;
  readonly parent: string | undefined;
  readonly machine: string | undefined;
  readonly startedAt: number;
  endedAt: number | undefined;
  status: ActorStatus;
  active: string[];
  state: string;
  context: SafeFields;
  readonly children: Set<string>;
  readonly events: EventRecord[];
  /** Dropped once the actor ends, so the hub holds no ended actor. */
  ref: AnyActorRef | undefined;
  /** The event being processed, to label the snapshot it leads to; cleared at once. */
  pendingEvent: object | undefined;
}

/** The parts of an actor reference read here (xstate exposes them on every actor). */
interface ActorInternals {
  readonly id: string;
  readonly sessionId: string;
  readonly _parent?: { readonly sessionId: string };
  readonly logic: unknown;
}

export class InspectionHub {
  readonly limits: HubLimits;
  readonly #live = new Map<string, Tracked>();
  /** Ended actors, oldest first. */
  readonly #ended = new Map<string, Tracked>();
  readonly #machines = new Map<string, MachineLayout>();
  readonly #newMachines = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #removed = new Set<string>();
  readonly #listeners = new Set<() => void>();
  #untracked = 0;
  #seq = 0;
  /** Events up to this seq were in an earlier delta. */
  #sentSeq = 0;
  readonly #now: () => number;

  constructor(limits: Partial<HubLimits> = {}, now: () => number = Date.now) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#now = now;
  }

  /** The xstate `inspect` callback. */
  readonly inspect = (event: InspectionEvent): void => {
    try {
      if (event.type === '@xstate.actor') this.#onActor(event.actorRef as unknown as AnyActorRef);
      else if (event.type === '@xstate.event') this.#onEvent(event.actorRef.sessionId, event.event, event.sourceRef);
      else if (event.type === '@xstate.snapshot') this.#onSnapshot(event.actorRef.sessionId, event.snapshot, event.event);
    } catch {
      // The debug view must never break the actors it watches.
    }
  };

  /** Called (synchronously, at most once per batch of changes) when something changed. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get counts(): HubCounts {
    return { live: this.#live.size, ended: this.#ended.size, untracked: this.#untracked, events: this.#seq };
  }

  /** Everything kept, for a page that just connected. */
  snapshot(): HubSnapshot {
    this.#sweep();
    return {
      machines: Object.fromEntries(this.#machines),
      actors: [...this.#live.values(), ...this.#ended.values()].map((a) => view(a, 0)),
      counts: this.counts,
    };
  }

  /** What changed since the previous call, or undefined when nothing did. */
  takeDelta(): HubDelta | undefined {
    this.#sweep();
    if (this.#dirty.size === 0 && this.#removed.size === 0 && this.#newMachines.size === 0) return undefined;
    const since = this.#sentSeq;
    const actors: ActorView[] = [];
    for (const key of this.#dirty) {
      const actor = this.#live.get(key) ?? this.#ended.get(key);
      if (actor) actors.push(view(actor, since));
    }
    const delta: HubDelta = {
      machines: Object.fromEntries([...this.#newMachines].map((id) => [id, this.#machines.get(id)!])),
      actors,
      removed: [...this.#removed],
      counts: this.counts,
    };
    this.#dirty.clear();
    this.#removed.clear();
    this.#newMachines.clear();
    this.#sentSeq = this.#seq;
    return delta;
  }

  #onActor(ref: AnyActorRef): void {
    const internals = ref as unknown as ActorInternals;
    const parent = internals._parent?.sessionId;
    if (parent !== undefined && !this.#live.has(parent)) {
      // A child of an actor not tracked (over the limit, or already ended): not tracked either.
      this.#untracked += 1;
      return;
    }
    if (this.#live.size >= this.limits.liveLimit) {
      this.#untracked += 1;
      return;
    }
    const machine = this.#machineOf(internals.logic);
    const tracked: Tracked = {
      key: internals.sessionId,
      id: safeText(String(internals.id)),
      parent,
      machine,
      startedAt: this.#now(),
      endedAt: undefined,
      status: 'active',
      active: [],
      state: '',
      context: {},
      children: new Set(),
      events: [],
      ref,
      pendingEvent: undefined,
    };
    this.#live.set(tracked.key, tracked);
    if (parent !== undefined) this.#live.get(parent)?.children.add(tracked.key);
    this.#touch(tracked.key);
  }

  #machineOf(logic: unknown): string | undefined {
    if (!isMachine(logic)) return undefined;
    const id = logic.id;
    if (!this.#machines.has(id) && this.#machines.size < this.limits.machineLimit) {
      this.#machines.set(id, layoutMachine(machineGraph(logic)));
      this.#newMachines.add(id);
    }
    return id;
  }

  #onEvent(key: string, event: { type: string; [k: string]: unknown }, source: { sessionId: string } | undefined): void {
    const actor = this.#live.get(key);
    if (!actor) return;
    const from = source && source.sessionId !== key ? (this.#live.get(source.sessionId) ?? this.#ended.get(source.sessionId))?.id : undefined;
    const fields = safeFields(event);
    const error = event.type.startsWith('xstate.error.actor') ? safeErrorMessage(event['error']) : undefined;
    const record: EventRecord = {
      seq: ++this.#seq,
      at: this.#now(),
      type: safeText(event.type),
      ...(from !== undefined ? { from } : {}),
      ...(Object.keys(fields).length > 0 || error !== undefined ? { fields: { ...fields, ...(error !== undefined ? { error } : {}) } } : {}),
    };
    actor.events.push(record);
    if (actor.events.length > this.limits.eventsPerActor) actor.events.shift();
    actor.pendingEvent = event;
    this.#touch(key);
  }

  #onSnapshot(key: string, snapshot: unknown, event: unknown): void {
    const actor = this.#live.get(key);
    if (!actor) return;
    const snap = snapshot as { status?: string; value?: unknown; context?: unknown };
    if (actor.machine !== undefined) {
      actor.active = activePaths(snap.value);
      actor.state = leaves(actor.active).join(', ');
      actor.context = safeFields(snap.context);
      const last = actor.events.at(-1);
      if (last && actor.pendingEvent !== undefined && event === actor.pendingEvent) last.to = actor.state;
    }
    actor.pendingEvent = undefined;
    const status = snap.status;
    if (status === 'done' || status === 'error' || status === 'stopped') this.#end(actor, status);
    this.#touch(key);
  }

  #end(actor: Tracked, status: ActorStatus): void {
    if (!this.#live.has(actor.key)) return;
    actor.status = status;
    actor.endedAt = this.#now();
    actor.ref = undefined;
    actor.pendingEvent = undefined;
    this.#live.delete(actor.key);
    this.#ended.set(actor.key, actor);
    // Children never outlive their parent.
    for (const child of actor.children) {
      const tracked = this.#live.get(child);
      if (tracked) this.#end(tracked, 'stopped');
    }
    while (this.#ended.size > this.limits.endedLimit) {
      const oldest = this.#ended.keys().next().value as string;
      const gone = this.#ended.get(oldest)!;
      this.#ended.delete(oldest);
      const parent = gone.parent === undefined ? undefined : (this.#live.get(gone.parent) ?? this.#ended.get(gone.parent));
      parent?.children.delete(oldest);
      this.#dirty.delete(oldest);
      this.#removed.add(oldest);
    }
    this.#touch(actor.key);
  }

  /** Actors that ended without telling (stopped before they started): end them here. */
  #sweep(): void {
    for (const actor of [...this.#live.values()]) {
      const status = (actor.ref?.getSnapshot() as { status?: string } | undefined)?.status;
      if (status === 'done' || status === 'error' || status === 'stopped') this.#end(actor, status);
    }
  }

  #touch(key: string): void {
    const first = this.#dirty.size === 0;
    this.#dirty.add(key);
    if (first) for (const listener of this.#listeners) listener();
  }
}

function view(actor: Tracked, since: number): ActorView {
  return {
    key: actor.key,
    id: actor.id,
    ...(actor.parent !== undefined ? { parent: actor.parent } : {}),
    ...(actor.machine !== undefined ? { machine: actor.machine } : {}),
    startedAt: actor.startedAt,
    ...(actor.endedAt !== undefined ? { endedAt: actor.endedAt } : {}),
    status: actor.status,
    active: actor.active,
    state: actor.state,
    context: actor.context,
    children: [...actor.children],
    events: since === 0 ? [...actor.events] : actor.events.filter((e) => e.seq > since),
  };
}

function isMachine(logic: unknown): logic is AnyStateMachine {
  return typeof logic === 'object' && logic !== null && 'root' in logic && 'id' in logic && typeof (logic as { id: unknown }).id === 'string';
}

/** Paths that are not the parent of another active path. */
function leaves(paths: readonly string[]): string[] {
  return paths.filter((p) => !paths.some((q) => q.startsWith(`${p}.`)));
}
