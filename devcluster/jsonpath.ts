/**
 * The subset of Kubernetes JSONPath that CRD printer columns use:
 * `.a.b`, `['a.b']`, `[0]`, `[*]`, `[?(@.type=="Ready")]`, with or without `{}`.
 */
import type { Json } from './types.js';
import { isObject } from './types.js';

type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; value: string };

function parse(path: string): Step[] {
  let s = path.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === '.') {
      i++;
      let name = '';
      while (i < s.length && s[i] !== '.' && s[i] !== '[') name += s[i++];
      if (name === '*') steps.push({ kind: 'all' });
      else if (name) steps.push({ kind: 'field', name });
    } else if (ch === '[') {
      const end = s.indexOf(']', i);
      if (end < 0) return [];
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      const filter = /^\?\(@((?:\.[\w-]+)+)\s*==\s*["']?([^"')]*)["']?\)$/.exec(inner);
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^['"].*['"]$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else if (filter) steps.push({ kind: 'filter', path: (filter[1] as string).slice(1).split('.'), value: filter[2] as string });
      else return [];
    } else {
      // a leading name without a dot (`spec.x`) is accepted, as kubectl does
      let name = '';
      while (i < s.length && s[i] !== '.' && s[i] !== '[') name += s[i++];
      if (name && name !== '$' && name !== '@') steps.push({ kind: 'field', name });
    }
  }
  return steps;
}

/** Every value the path selects in `doc`, in order. */
export function findResults(doc: Json, path: string): Json[] {
  let cur: Json[] = [doc];
  for (const step of parse(path)) {
    const next: Json[] = [];
    for (const v of cur) {
      if (step.kind === 'field' && isObject(v) && v[step.name] !== undefined) next.push(v[step.name] as Json);
      else if (step.kind === 'index' && Array.isArray(v)) {
        const at = step.index < 0 ? v.length + step.index : step.index;
        if (v[at] !== undefined) next.push(v[at] as Json);
      } else if (step.kind === 'all') {
        if (Array.isArray(v)) next.push(...v);
        else if (isObject(v)) next.push(...(Object.values(v).filter((x) => x !== undefined) as Json[]));
      } else if (step.kind === 'filter' && Array.isArray(v)) {
        for (const item of v) {
          const got = findResults(item, `.${step.path.join('.')}`)[0];
          if (got !== undefined && String(got) === step.value) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}
