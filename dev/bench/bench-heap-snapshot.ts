/**
 * Read a V8 `.heapsnapshot` and say where the heap goes: self size by node type, by
 * constructor (objects) or function (closures), by script (functions, their bytecode and
 * shared info, grouped by package or file), and the retained size of chosen classes
 * (dominator tree, Cooper–Harvey–Kennedy, weak edges ignored). Enough to diff two
 * snapshots and divide by the clusters or agents between them.
 */
import { readFileSync } from 'node:fs';

interface RawSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[];
      readonly node_types: [string[], ...unknown[]];
      readonly edge_fields: string[];
      readonly edge_types: [string[], ...unknown[]];
    };
  };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

export interface HeapGroup {
  readonly name: string;
  readonly count: number;
  readonly bytes: number;
}

export interface HeapSummary {
  readonly totalBytes: number;
  readonly nodes: number;
  /** By node type (object, closure, code, string, array, hidden, native…). */
  readonly byType: Readonly<Record<string, number>>;
  /** `type:name` of objects, closures, arrays and natives, largest first. */
  readonly byConstructor: readonly HeapGroup[];
  /** Functions with their shared info and bytecode, by package (`node_modules/x`), our file, or `node:` internals. */
  readonly byScript: readonly HeapGroup[];
  /** Mean retained size of one instance, for the classes asked about. */
  readonly retained: Readonly<Record<string, { readonly count: number; readonly meanBytes: number; readonly totalBytes: number }>>;
}

export function summarizeHeapSnapshot(file: string, classes: readonly string[] = [], top = 60): HeapSummary {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const meta = raw.snapshot.meta;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const TYPE = meta.node_fields.indexOf('type');
  const NAME = meta.node_fields.indexOf('name');
  const SELF = meta.node_fields.indexOf('self_size');
  const EDGES = meta.node_fields.indexOf('edge_count');
  const E_TYPE = meta.edge_fields.indexOf('type');
  const E_NAME = meta.edge_fields.indexOf('name_or_index');
  const E_TO = meta.edge_fields.indexOf('to_node');
  const types = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const byIndexEdge = new Set([edgeTypes.indexOf('element'), edgeTypes.indexOf('hidden')]);
  const { nodes: N, edges: E, strings: S } = raw;
  const count = N.length / NF;

  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += N[i * NF + EDGES]! * EF;
  }
  firstEdge[count] = E.length;
  const type = (i: number) => types[N[i * NF + TYPE]!]!;
  const name = (i: number) => S[N[i * NF + NAME]!]!;
  const self = (i: number) => N[i * NF + SELF]!;
  const edgeTo = (i: number, edgeName: string): number | undefined => {
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
      if (!byIndexEdge.has(E[e + E_TYPE]!) && S[E[e + E_NAME]!] === edgeName) return E[e + E_TO]! / NF;
    }
    return undefined;
  };

  // Self sizes by type and by constructor/function name.
  const byType: Record<string, number> = {};
  const groups = new Map<string, { count: number; bytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const t = type(i);
    const size = self(i);
    totalBytes += size;
    byType[t] = (byType[t] ?? 0) + size;
    if (t === 'object' || t === 'closure' || t === 'array' || t === 'native') {
      const key = `${t}:${name(i).slice(0, 80)}`;
      const g = groups.get(key) ?? { count: 0, bytes: 0 };
      g.count += 1;
      g.bytes += size;
      groups.set(key, g);
    }
  }

  // Functions by script: the closure, its shared function info and the bytecode it holds.
  const scripts = new Map<string, { count: number; bytes: number }>();
  const sharedSeen = new Set<number>();
  for (let i = 0; i < count; i++) {
    if (type(i) !== 'closure') continue;
    const shared = edgeTo(i, 'shared');
    const script = shared === undefined ? undefined : edgeTo(shared, 'script_or_debug_info');
    const url = script === undefined ? undefined : edgeTo(script, 'name');
    const key = scriptGroup(url === undefined ? '' : name(url));
    let bytes = self(i);
    if (shared !== undefined && !sharedSeen.has(shared)) {
      sharedSeen.add(shared);
      bytes += self(shared);
      const bytecode = edgeTo(shared, 'function_data');
      if (bytecode !== undefined) bytes += self(bytecode);
    }
    const g = scripts.get(key) ?? { count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += bytes;
    scripts.set(key, g);
  }

  const retained = classes.length ? retainedOf(classes) : {};
  const rank = (map: Map<string, { count: number; bytes: number }>) =>
    [...map].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top).map(([n, g]) => ({ name: n, count: g.count, bytes: g.bytes }));
  return { totalBytes, nodes: count, byType, byConstructor: rank(groups), byScript: rank(scripts), retained };

  function retainedOf(wanted: readonly string[]): HeapSummary['retained'] {
    // Predecessors (strong edges only), then postorder from the root (node 0).
    const predCount = new Uint32Array(count + 1);
    for (let i = 0; i < count; i++) {
      for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) if (E[e + E_TYPE] !== weak) predCount[E[e + E_TO]! / NF + 1]! += 1;
    }
    for (let i = 0; i < count; i++) predCount[i + 1]! += predCount[i]!;
    const predFirst = predCount.slice();
    const preds = new Uint32Array(predCount[count]!);
    const fill = predFirst.slice();
    for (let i = 0; i < count; i++) {
      for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
        if (E[e + E_TYPE] === weak) continue;
        const to = E[e + E_TO]! / NF;
        preds[fill[to]!++] = i;
      }
    }
    const order = new Int32Array(count).fill(-1); // postorder number
    const post: number[] = [];
    const stack: Array<[number, number]> = [[0, firstEdge[0]!]];
    const visited = new Uint8Array(count);
    visited[0] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [n, e] = top;
      if (e < firstEdge[n + 1]!) {
        top[1] = e + EF;
        if (E[e + E_TYPE] === weak) continue;
        const to = E[e + E_TO]! / NF;
        if (!visited[to]) {
          visited[to] = 1;
          stack.push([to, firstEdge[to]!]);
        }
      } else {
        order[n] = post.length;
        post.push(n);
        stack.pop();
      }
    }
    const idom = new Int32Array(count).fill(-1);
    idom[0] = 0;
    const intersect = (a: number, b: number) => {
      while (a !== b) {
        while (order[a]! < order[b]!) a = idom[a]!;
        while (order[b]! < order[a]!) b = idom[b]!;
      }
      return a;
    };
    for (let changed = true, passes = 0; changed && passes < 100; passes++) {
      changed = false;
      for (let k = post.length - 2; k >= 0; k--) {
        const b = post[k]!;
        let next = -1;
        for (let p = predFirst[b]!; p < predFirst[b + 1]!; p++) {
          const pred = preds[p]!;
          if (idom[pred] === -1 || order[pred] === -1) continue;
          next = next === -1 ? pred : intersect(pred, next);
        }
        if (next !== -1 && idom[b] !== next) {
          idom[b] = next;
          changed = true;
        }
      }
    }
    const size = new Float64Array(count);
    for (const n of post) size[n] = self(n);
    for (const n of post) {
      const parent = idom[n]!;
      if (n !== 0 && parent >= 0) size[parent] = size[parent]! + size[n]!;
    }
    const out: Record<string, { count: number; meanBytes: number; totalBytes: number }> = {};
    for (const cls of wanted) {
      let c = 0;
      let total = 0;
      for (let i = 0; i < count; i++) {
        if (order[i] === -1 || type(i) !== 'object' || name(i) !== cls) continue;
        c += 1;
        total += size[i]!;
      }
      out[cls] = { count: c, meanBytes: c ? total / c : 0, totalBytes: total };
    }
    return out;
  }
}

/** `…/node_modules/@kubernetes/client-node/dist/x.js` → `@kubernetes/client-node`; our files by path; `node:` internals as one. */
function scriptGroup(url: string): string {
  if (!url) return '(no script)';
  if (url.startsWith('node:')) return 'node: internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length).split('/').slice(0, 3).join('/');
  return url.replace(/^file:\/\//, '');
}
