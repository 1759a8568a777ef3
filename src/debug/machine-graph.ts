/**
 * An xstate v5 machine definition as a plain graph: its state tree, the transitions
 * between states (labelled `event [guard]`) and the transitions no arrow can show. The
 * Markdown diagrams in docs/state-diagrams/ (dev/diagrams/) and the debug page's
 * pictures (src/debug/) are both drawn from it, so they always agree.
 *
 * Depends only on the definition (document order), never on time or on a running actor.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface GraphState {
  /** Dot-separated path from the root (`session.connected.idle`); the root is ``. */
  readonly path: string;
  readonly key: string;
  readonly kind: StateKind;
  /** Paths of the child states, in document order. */
  readonly children: readonly string[];
  /** Path of the initial child of a compound state. */
  readonly initial?: string;
  /** Names of the actors invoked while in this state. */
  readonly invokes: readonly string[];
  /** For a history state. */
  readonly history?: 'shallow' | 'deep';
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

/** A transition an arrow cannot show: taken in any state, or without leaving the state. */
export interface UndrawnTransition {
  /** A state path, or `(any state)` for the machine's own transitions. */
  readonly state: string;
  readonly label: string;
  /** State paths, `(stays)` or `(machine)`. */
  readonly target: string;
}

export interface MachineGraph {
  readonly id: string;
  readonly description?: string;
  /** Every state, the root first, then depth first in document order. */
  readonly states: readonly GraphState[];
  readonly edges: readonly GraphEdge[];
  readonly undrawn: readonly UndrawnTransition[];
}

/** The part of an xstate transition definition read here. */
export interface TransitionLike {
  readonly eventType: string;
  readonly target?: readonly AnyStateNode[] | undefined;
  readonly guard?: unknown;
  readonly delay?: unknown;
}

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root = machine.root;
  const nodes = stateNodesUnder(root);
  const states: GraphState[] = [root, ...nodes].map((node) => {
    const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
    return {
      path: pathOf(node),
      key: node.key,
      kind: node.type as StateKind,
      children: (Object.values(node.states) as AnyStateNode[]).map(pathOf),
      ...(initial ? { initial: pathOf(initial) } : {}),
      invokes: node.invoke.map((inv) => actorName(inv.src, inv.id)),
      ...(node.type === 'history' ? { history: node.history === 'deep' ? ('deep' as const) : ('shallow' as const) } : {}),
    };
  });
  const edges: GraphEdge[] = [];
  const undrawn: UndrawnTransition[] = [];
  for (const node of [root, ...nodes]) {
    for (const transition of transitionsOf(node)) {
      const label = transitionLabel(node, transition);
      const targets = transition.target ?? [];
      if (node === root || targets.length === 0 || targets.includes(root)) {
        const state = node === root ? '(any state)' : pathOf(node);
        const target = targets.length === 0 ? '(stays)' : targets.map((t) => (t === root ? '(machine)' : pathOf(t))).join(', ');
        undrawn.push({ state, label, target });
        continue;
      }
      for (const target of targets) edges.push({ from: pathOf(node), to: pathOf(target), label });
    }
  }
  return { id: root.id, ...(root.description ? { description: clean(root.description) } : {}), states, edges, undrawn };
}

/** Paths of the states a snapshot value is in (`{ session: 'dialing' }` → `session`, `session.dialing`). */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [join(prefix, value)];
  if (!value || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const path = join(prefix, key);
    out.push(path, ...activePaths(child, path));
  }
  return out;
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

function pathOf(node: AnyStateNode): string {
  return node.path.join('.');
}

/** Every state node under `root`, depth first, in document order. */
export function stateNodesUnder(root: AnyStateNode): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const visit = (node: AnyStateNode): void => {
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      out.push(child);
      visit(child);
    }
  };
  visit(root);
  return out;
}

export function transitionsOf(node: AnyStateNode): TransitionLike[] {
  const out: TransitionLike[] = [];
  for (const list of node.transitions.values()) out.push(...(list as TransitionLike[]));
  out.push(...((node.always ?? []) as TransitionLike[]));
  return out;
}

export function transitionLabel(node: AnyStateNode, transition: TransitionLike): string {
  const guard = guardLabel(transition.guard);
  const event = eventLabel(node, transition);
  return clean(guard === undefined ? event : `${event} [${guard}]`);
}

function eventLabel(node: AnyStateNode, transition: TransitionLike): string {
  const type = transition.eventType;
  if (type === '') return 'always';
  if ('delay' in transition && type.startsWith('xstate.after.')) return `after ${delayLabel(transition.delay)}`;
  for (const [prefix, label] of [
    ['xstate.done.actor.', 'onDone'],
    ['xstate.error.actor.', 'onError'],
    ['xstate.snapshot.', 'onSnapshot'],
  ] as const) {
    if (!type.startsWith(prefix)) continue;
    const invokeId = type.slice(prefix.length);
    const invoked = node.invoke.find((inv) => inv.id === invokeId);
    return `${label} (${invoked ? actorName(invoked.src, invoked.id) : invokeId})`;
  }
  if (type.startsWith('xstate.done.state.')) return 'onDone';
  return type;
}

function delayLabel(delay: unknown): string {
  if (typeof delay === 'number') return `${delay} ms`;
  if (typeof delay === 'string') return delay;
  return 'delay';
}

export function actorName(src: unknown, id: string): string {
  return typeof src === 'string' ? src : id;
}

/** `name`, `!name`, `(a && b)`, `(a || b)`, `in(state)`. */
function guardLabel(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const inner = (guard as { guards?: unknown }).guards;
    const parts = Array.isArray(inner) ? inner.map((g) => guardLabel(g) ?? 'guard') : [];
    if (guard.name === 'not' && parts.length === 1) return `!${parts[0]}`;
    if (guard.name === 'and') return `(${parts.join(' && ')})`;
    if (guard.name === 'or') return `(${parts.join(' || ')})`;
    if (guard.name === 'stateIn') return `in(${JSON.stringify((guard as { stateValue?: unknown }).stateValue)})`;
    return guard.name || 'guard';
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'guard';
}

/** One line, without characters that end a Mermaid label or statement, or open an entity. */
export function clean(text: string): string {
  return text.replace(/[\r\n;:#]+/g, ' ').replace(/\s+/g, ' ').trim();
}
