/** Label selectors (equality- and set-based) and the field selectors every kind supports. */
import type { KubeObject } from './types.js';
import { errors } from './types.js';

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

export type Selector = (obj: KubeObject) => boolean;

const everything: Selector = () => true;

/** Split on commas that are not inside parentheses (`a in (x,y),b=c`). */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function parseRequirement(expr: string): Requirement {
  let m = /^!\s*([^\s!=(),]+)$/.exec(expr);
  if (m) return { key: m[1] as string, op: '!exists' };
  m = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(expr);
  if (m) {
    const values = (m[3] as string).split(',').map((v) => v.trim());
    return { key: m[1] as string, op: m[2] as 'in' | 'notin', values };
  }
  m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(expr);
  if (m) return { key: m[1] as string, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3] as string] };
  m = /^([^\s!=(),]+)$/.exec(expr);
  if (m) return { key: m[1] as string, op: 'exists' };
  throw errors.badRequest(`unable to parse requirement: found '${expr}', expected: in, notin, =, ==, !=, gt, lt`);
}

export function parseLabelSelector(s: string | null | undefined): Selector {
  if (!s) return everything;
  const reqs = splitTop(s).map(parseRequirement);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return reqs.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case 'exists':
          return has;
        case '!exists':
          return !has;
        case 'in':
          return has && r.values.includes(v as string);
        case 'notin':
          return !has || !r.values.includes(v as string);
      }
    });
  };
}

/** `metadata.name` and `metadata.namespace`, as every resource supports, and the kind's `extra` ones; others are 400. */
export function parseFieldSelector(s: string | null | undefined, extra: Readonly<Record<string, (o: KubeObject) => string>> = {}): Selector {
  if (!s) return everything;
  const tests: Selector[] = [];
  for (const part of splitTop(s)) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw errors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const field = (m[1] as string).trim();
    const want = (m[3] as string).trim();
    const negate = m[2] === '!=';
    let get: (o: KubeObject) => string;
    if (field === 'metadata.name') get = (o) => o.metadata.name ?? '';
    else if (field === 'metadata.namespace') get = (o) => o.metadata.namespace ?? '';
    else if (Object.hasOwn(extra, field)) get = extra[field]!;
    else throw errors.badRequest(`"${field}" is not a known field selector: only ${['metadata.name', 'metadata.namespace', ...Object.keys(extra)].map((f) => `"${f}"`).join(', ')}`);
    tests.push((o) => (get(o) === want) !== negate);
  }
  return (o) => tests.every((t) => t(o));
}
