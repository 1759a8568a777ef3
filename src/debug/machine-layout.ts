/**
 * A picture of a machine graph for the debug page: boxes for states (compound states
 * hold their children), arrows for transitions. A small layered layout of our own
 * instead of a diagram library: inside each compound state, the children are put in
 * columns by their distance from the initial state along the transitions, so the usual
 * path reads left to right. Pure and deterministic; the page only draws the result.
 */
import type { GraphState, MachineGraph, UndrawnTransition } from './machine-graph.js';

export interface PlacedState {
  readonly path: string;
  readonly label: string;
  readonly kind: GraphState['kind'];
  /** Parallel regions and compound states are drawn as containers. */
  readonly container: boolean;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface PlacedEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  /** SVG path data. */
  readonly d: string;
  /** Where the label goes. */
  readonly lx: number;
  readonly ly: number;
}

export interface MachineLayout {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly states: readonly PlacedState[];
  readonly edges: readonly PlacedEdge[];
  /** Initial-state markers: a dot at (x, y) pointing at `to`. */
  readonly initials: ReadonlyArray<{ readonly x: number; readonly y: number; readonly d: string }>;
  readonly undrawn: readonly UndrawnTransition[];
}

const CHAR_WIDTH = 7.3; // 12px monospace
const LEAF_HEIGHT = 32;
const LEAF_MIN_WIDTH = 72;
const LABEL_CHAR_WIDTH = 6.1; // 10px monospace
const HEADER = 24;
const PAD = 16;
const MIN_COLUMN_GAP = 56;
const MAX_COLUMN_GAP = 200;
const ROW_GAP = 34;
const MARGIN = 16;
const CURVE_STEP = 26;

interface Size {
  readonly w: number;
  readonly h: number;
}

export function layoutMachine(graph: MachineGraph): MachineLayout {
  const byPath = new Map(graph.states.map((state) => [state.path, state]));
  const root = graph.states[0]!;
  const sizes = new Map<string, Size>();
  const offsets = new Map<string, { x: number; y: number }>(); // relative to the parent's content origin
  const columnsOf = new Map<string, string[][]>();

  const childOfScope = (scope: GraphState, path: string): string | undefined =>
    scope.children.find((child) => path === child || path.startsWith(`${child}.`));

  /** Space between columns: room for the longest label of an arrow between two children. */
  const columnGap = (scope: GraphState): number => {
    let longest = 0;
    for (const edge of graph.edges) {
      const a = childOfScope(scope, edge.from);
      const b = childOfScope(scope, edge.to);
      if (a !== undefined && b !== undefined && a !== b) longest = Math.max(longest, edge.label.length);
    }
    return Math.min(MAX_COLUMN_GAP, Math.max(MIN_COLUMN_GAP, longest * LABEL_CHAR_WIDTH + 24));
  };

  /** Columns of the children of a compound state: distance from the initial child. */
  const columns = (scope: GraphState): string[][] => {
    const next = new Map<string, string[]>();
    for (const edge of graph.edges) {
      const a = childOfScope(scope, edge.from);
      const b = childOfScope(scope, edge.to);
      if (a === undefined || b === undefined || a === b) continue;
      next.set(a, [...(next.get(a) ?? []), b]);
    }
    const layer = new Map<string, number>();
    const start = scope.initial ?? scope.children[0];
    if (start !== undefined) {
      layer.set(start, 0);
      const queue = [start];
      for (let i = 0; i < queue.length; i += 1) {
        for (const b of next.get(queue[i]!) ?? []) {
          if (layer.has(b)) continue;
          layer.set(b, layer.get(queue[i]!)! + 1);
          queue.push(b);
        }
      }
    }
    const last = Math.max(0, ...layer.values());
    for (const child of scope.children) if (!layer.has(child)) layer.set(child, last);
    const out: string[][] = [];
    for (const child of scope.children) (out[layer.get(child)!] ??= []).push(child);
    return out.filter((column) => column.length > 0);
  };

  const measure = (state: GraphState): Size => {
    let size: Size;
    if (state.children.length === 0) {
      size = { w: Math.max(LEAF_MIN_WIDTH, Math.ceil(labelOf(state).length * CHAR_WIDTH) + 24), h: LEAF_HEIGHT };
    } else if (state.kind === 'parallel') {
      // Regions stacked, each as wide as the widest.
      const regions = state.children.map((path) => measure(byPath.get(path)!));
      const w = Math.max(...regions.map((r) => r.w));
      let y = 0;
      state.children.forEach((path, i) => {
        offsets.set(path, { x: 0, y });
        sizes.set(path, { w, h: regions[i]!.h });
        y += regions[i]!.h + ROW_GAP / 2;
      });
      size = { w: w + 2 * PAD, h: y - ROW_GAP / 2 + HEADER + PAD };
    } else {
      const cols = columns(state);
      columnsOf.set(state.path, cols);
      const measured = cols.map((column) => column.map((path) => measure(byPath.get(path)!)));
      const colWidths = measured.map((column) => Math.max(...column.map((s) => s.w)));
      const colHeights = measured.map((column) => column.reduce((h, s) => h + s.h, 0) + ROW_GAP * (column.length - 1));
      const contentH = Math.max(...colHeights);
      const gap = columnGap(state);
      let x = 0;
      cols.forEach((column, c) => {
        let y = (contentH - colHeights[c]!) / 2;
        column.forEach((path, r) => {
          const s = measured[c]![r]!;
          offsets.set(path, { x: x + (colWidths[c]! - s.w) / 2, y });
          y += s.h + ROW_GAP;
        });
        x += colWidths[c]! + gap;
      });
      size = { w: x - gap + 2 * PAD, h: contentH + HEADER + PAD };
    }
    if (!sizes.has(state.path)) sizes.set(state.path, size);
    return sizes.get(state.path)!;
  };

  measure(root);
  const placed = new Map<string, PlacedState>();
  const place = (state: GraphState, x: number, y: number): void => {
    const size = sizes.get(state.path)!;
    if (state !== root) {
      placed.set(state.path, {
        path: state.path,
        label: labelOf(state),
        kind: state.kind,
        container: state.children.length > 0,
        x: round(x),
        y: round(y),
        w: round(size.w),
        h: round(size.h),
      });
    }
    const originX = x + (state === root ? 0 : PAD);
    const originY = y + (state === root ? 0 : HEADER);
    for (const child of state.children) {
      const offset = offsets.get(child)!;
      place(byPath.get(child)!, originX + offset.x, originY + offset.y);
    }
  };
  // The root is the canvas itself, not a box.
  const rootSize = sizes.get(root.path)!;
  const rootInner = { w: rootSize.w - 2 * PAD, h: rootSize.h - HEADER - PAD };
  place(root, MARGIN, MARGIN + 14);

  const edges = placeLabels(routeEdges(graph, placed), [...placed.values()].filter((state) => !state.container));
  const initials = graph.states.flatMap((state) => {
    const target = state.initial === undefined ? undefined : placed.get(state.initial);
    if (!target) return [];
    const x = target.x - 14;
    const y = target.y + Math.min(target.h, LEAF_HEIGHT) / 2;
    return [{ x, y, d: `M${round(x + 4)},${round(y)} L${target.x},${round(y)}` }];
  });
  return {
    id: graph.id,
    width: round(rootInner.w + 2 * MARGIN),
    height: round(rootInner.h + 2 * MARGIN + 14),
    states: [...placed.values()],
    edges,
    initials,
    undrawn: graph.undrawn,
  };
}

function routeEdges(graph: MachineGraph, placed: ReadonlyMap<string, PlacedState>): PlacedEdge[] {
  // Edges between the same two states bend apart so they do not overlap.
  const pairCount = new Map<string, number>();
  const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
  for (const edge of graph.edges) pairCount.set(pairKey(edge.from, edge.to), (pairCount.get(pairKey(edge.from, edge.to)) ?? 0) + 1);
  const pairSeen = new Map<string, number>();
  const out: PlacedEdge[] = [];
  for (const edge of graph.edges) {
    const a = placed.get(edge.from);
    const b = placed.get(edge.to);
    if (!a || !b) continue;
    const key = pairKey(edge.from, edge.to);
    const index = pairSeen.get(key) ?? 0;
    pairSeen.set(key, index + 1);
    if (a === b) {
      out.push(selfLoop(edge.from, edge.label, a, index));
      continue;
    }
    const n = pairCount.get(key)!;
    // Offset measured in the pair's own direction (first path → second), so a→b and b→a separate.
    const sign = edge.from < edge.to ? 1 : -1;
    const bend = (index - (n - 1) / 2) * CURVE_STEP * sign;
    const ca = anchor(a, b);
    const cb = anchor(b, a);
    const mx = (ca.x + cb.x) / 2;
    const my = (ca.y + cb.y) / 2;
    const len = Math.hypot(cb.x - ca.x, cb.y - ca.y) || 1;
    const nx = -(cb.y - ca.y) / len;
    const ny = (cb.x - ca.x) / len;
    const control = { x: mx + nx * bend * 2, y: my + ny * bend * 2 };
    const start = clip(a, ca, control);
    const end = clip(b, cb, control);
    const lx = 0.25 * start.x + 0.5 * control.x + 0.25 * end.x;
    const ly = 0.25 * start.y + 0.5 * control.y + 0.25 * end.y;
    out.push({
      from: edge.from,
      to: edge.to,
      label: edge.label,
      d: `M${round(start.x)},${round(start.y)} Q${round(control.x)},${round(control.y)} ${round(end.x)},${round(end.y)}`,
      lx: round(lx),
      ly: round(ly),
    });
  }
  return out;
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Label nudges tried, in order, until a label overlaps neither a state nor another label. */
const LABEL_NUDGES = [0, -12, 12, -24, 24, -36, 36];

function placeLabels(edges: readonly PlacedEdge[], leaves: readonly Box[]): PlacedEdge[] {
  const taken: Box[] = [...leaves];
  const overlaps = (a: Box) => taken.some((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h);
  return edges.map((edge) => {
    const w = edge.label.length * LABEL_CHAR_WIDTH + 4;
    const boxAt = (dy: number): Box => ({ x: edge.lx - w / 2, y: edge.ly + dy - 9, w, h: 12 });
    const dy = LABEL_NUDGES.find((d) => !overlaps(boxAt(d))) ?? 0;
    taken.push(boxAt(dy));
    return dy === 0 ? edge : { ...edge, ly: round(edge.ly + dy) };
  });
}

/** Where an arrow leaves or enters a box: its centre, or the header of a container. */
function anchor(box: PlacedState, other: PlacedState): { x: number; y: number } {
  if (!box.container) return { x: box.x + box.w / 2, y: box.y + box.h / 2 };
  // Containers connect at the point of their border nearest the other box's centre.
  const ox = other.x + other.w / 2;
  const oy = other.y + other.h / 2;
  return { x: Math.min(Math.max(ox, box.x + 10), box.x + box.w - 10), y: Math.min(Math.max(oy, box.y + 10), box.y + box.h - 10) };
}

/** The point where the segment from `inside` towards `toward` leaves the box. */
function clip(box: PlacedState, inside: { x: number; y: number }, toward: { x: number; y: number }): { x: number; y: number } {
  const dx = toward.x - inside.x;
  const dy = toward.y - inside.y;
  if (dx === 0 && dy === 0) return inside;
  const tx = dx > 0 ? (box.x + box.w - inside.x) / dx : dx < 0 ? (box.x - inside.x) / dx : Infinity;
  const ty = dy > 0 ? (box.y + box.h - inside.y) / dy : dy < 0 ? (box.y - inside.y) / dy : Infinity;
  const t = Math.max(0, Math.min(tx, ty, 1));
  return { x: inside.x + dx * t, y: inside.y + dy * t };
}

function selfLoop(path: string, label: string, box: PlacedState, index: number): PlacedEdge {
  const rise = 22 + index * 14;
  const x1 = box.x + box.w * 0.3;
  const x2 = box.x + box.w * 0.7;
  const y = box.y;
  return {
    from: path,
    to: path,
    label,
    d: `M${round(x1)},${round(y)} C${round(x1)},${round(y - rise)} ${round(x2)},${round(y - rise)} ${round(x2)},${round(y)}`,
    lx: round(box.x + box.w / 2),
    ly: round(y - rise * 0.75),
  };
}

function labelOf(state: GraphState): string {
  if (state.kind === 'history') return state.history === 'deep' ? 'H*' : 'H';
  return state.key;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
