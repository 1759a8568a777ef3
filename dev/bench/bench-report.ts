/**
 * Figures of a bench run: our value (median of runs), the direct/baseline value measured
 * in the same run, their ratio, the Go tower's reference figure and our target from
 * issue 5, and whether the target is met. Printed as a table or as one JSON object.
 */
import { median, ratio } from './bench-stats.js';

export interface Target {
  readonly op: '>=' | '<=';
  readonly value: number;
}

export interface Figure {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Median over runs. */
  readonly ours: number | null;
  /** Direct access (or the named baseline) in the same runs, median. */
  readonly direct: number | null;
  /** ours ÷ direct. */
  readonly ratio: number | null;
  readonly go: number | null;
  readonly target: Target | null;
  readonly met: boolean | null;
  /** Our value in each run. */
  readonly runs: ReadonlyArray<number | null>;
  readonly note?: string;
}

/** Reference points (Go tower built from source, 2 cores) and targets, from issue 5. */
export const REFERENCE: Readonly<Record<string, { go?: number; target?: Target }>> = {
  'bulk.kube.mbPerSecond': { go: 108, target: { op: '>=', value: 430 } },
  'bulk.ks.mbPerSecond': { go: 125 },
  'small.p50Ms': { go: 0.59, target: { op: '<=', value: 0.6 } },
  'small.p99Ms': { go: 1.2, target: { op: '<=', value: 1.2 } },
  'small.rps': { go: 859, target: { op: '>=', value: 8600 } },
  'sessions.rssPerAgentKb': { go: 141, target: { op: '<=', value: 70 } },
  'sessions.handshakesPerSecond': { go: 12, target: { op: '>=', value: 360 } },
  'storm.backSeconds': { target: { op: '<=', value: 10 } },
  'eld.bulk.p99Ms': { target: { op: '<=', value: 10 } },
  'eld.bulk.maxMs': { target: { op: '<=', value: 50 } },
  'eld.storm.maxMs': { target: { op: '<=', value: 50 } },
};

export interface FigureInput {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly runs: ReadonlyArray<number | null | undefined>;
  readonly direct?: ReadonlyArray<number | null | undefined>;
  /** Which reference row applies (default: key). */
  readonly reference?: string;
  readonly note?: string;
}

export function figure(input: FigureInput): Figure {
  const ours = median(input.runs);
  const direct = input.direct ? median(input.direct) : null;
  const reference = REFERENCE[input.reference ?? input.key] ?? {};
  const target = reference.target ?? null;
  return {
    key: input.key,
    label: input.label,
    unit: input.unit,
    ours,
    direct,
    ratio: ratio(ours, direct),
    go: reference.go ?? null,
    target,
    met: target && ours !== null ? (target.op === '>=' ? ours >= target.value : ours <= target.value) : null,
    runs: input.runs.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null)),
    ...(input.note ? { note: input.note } : {}),
  };
}

function fmt(value: number | null): string {
  if (value === null) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatTable(figures: readonly Figure[], header: string): string {
  const rows = [
    ['figure', 'unit', 'ours', 'direct', 'ratio', 'Go tower', 'target', 'met'],
    ...figures.map((f) => [
      f.label,
      f.unit,
      fmt(f.ours),
      fmt(f.direct),
      f.ratio === null ? '' : `${f.ratio.toFixed(2)}x`,
      f.go === null ? '' : fmt(f.go),
      f.target ? `${f.target.op === '>=' ? '≥' : '≤'} ${fmt(f.target.value)}` : '',
      f.met === null ? '' : f.met ? 'yes' : 'NO',
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const notes = figures.filter((f) => f.note).map((f) => `  ${f.label}: ${f.note}`);
  return [header, line(rows[0]!), ...rows.slice(1).map(line), ...(notes.length ? ['notes:', ...notes] : [])].join('\n');
}
