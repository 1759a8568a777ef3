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
  /** A target on ours ÷ direct (e.g. ≥ 0.5× direct), checked beside `target`. */
  readonly ratioTarget: Target | null;
  /** Every target given is met (null when there is none or no value). */
  readonly met: boolean | null;
  /** Our value in each run. */
  readonly runs: ReadonlyArray<number | null>;
  readonly note?: string;
}

/**
 * Reference points (Go tower built from source, 2 cores) and targets: issue 5 (the first
 * bench), issue 10 (footprint), issue 11 (data path); the issue 10/11 figures where they
 * differ from issue 5's run.
 */
export const REFERENCE: Readonly<Record<string, { go?: number; target?: Target; ratioTarget?: Target }>> = {
  'bulk.kube.mbPerSecond': { go: 108, target: { op: '>=', value: 430 }, ratioTarget: { op: '>=', value: 0.5 } },
  'bulk.ks.mbPerSecond': { go: 125, ratioTarget: { op: '>=', value: 0.6 } },
  'small.p50Ms': { go: 0.59, target: { op: '<=', value: 0.6 }, ratioTarget: { op: '<=', value: 1.5 } },
  'small.p99Ms': { go: 1.2, target: { op: '<=', value: 1.2 }, ratioTarget: { op: '<=', value: 1.5 } },
  'small.rps': { go: 859, target: { op: '>=', value: 8600 }, ratioTarget: { op: '>=', value: 0.5 } },
  'sessions.rssPerAgentKb': { go: 141, target: { op: '<=', value: 70 } },
  'sessions.200.rssPerAgentKb': { go: 229, target: { op: '<=', value: 110 } },
  'sessions.1000.rssPerAgentKb': { go: 141, target: { op: '<=', value: 70 } },
  'sessions.handshakesPerSecond': { go: 12, target: { op: '>=', value: 360 } },
  'storm.backSeconds': { target: { op: '<=', value: 10 } },
  'eld.bulk.p99Ms': { target: { op: '<=', value: 10 } },
  'eld.bulk.maxMs': { target: { op: '<=', value: 50 } },
  'eld.storm.maxMs': { target: { op: '<=', value: 50 } },
  'footprint.200.rssMb': { go: 12.3, target: { op: '<=', value: 64 } },
  'footprint.perClusterKb': { target: { op: '<=', value: 20 } },
  'agent.idle.rssMb': { go: 20, target: { op: '<=', value: 60 } },
  'agent.loaded.rssMb': { go: 26, target: { op: '<=', value: 90 } },
  'fleet.rssMb': { target: { op: '<=', value: 1536 } },
  'fleet.backSeconds': { target: { op: '<=', value: 60 } },
  'fleet.eldP99Ms': { target: { op: '<=', value: 50 } },
  'wan.50.mbPerSecond': { target: { op: '>=', value: 150 }, ratioTarget: { op: '>=', value: 0.8 } },
  'wan.200.mbPerSecond': { target: { op: '>=', value: 40 } },
};

export interface FigureInput {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly runs: ReadonlyArray<number | null | undefined>;
  readonly direct?: ReadonlyArray<number | null | undefined>;
  /** Which reference row applies (default: key). */
  readonly reference?: string;
  /** A target computed in this run (e.g. from the baseline), instead of the reference's. */
  readonly target?: Target;
  readonly note?: string;
}

export function figure(input: FigureInput): Figure {
  const ours = median(input.runs);
  const direct = input.direct ? median(input.direct) : null;
  const r = ratio(ours, direct);
  const reference = REFERENCE[input.reference ?? input.key] ?? {};
  const target = input.target ?? reference.target ?? null;
  const ratioTarget = reference.ratioTarget ?? null;
  const checks = [
    ...(target && ours !== null ? [meets(ours, target)] : []),
    ...(ratioTarget && r !== null ? [meets(r, ratioTarget)] : []),
  ];
  return {
    key: input.key,
    label: input.label,
    unit: input.unit,
    ours,
    direct,
    ratio: r,
    go: reference.go ?? null,
    target,
    ratioTarget,
    met: checks.length ? checks.every(Boolean) : null,
    runs: input.runs.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null)),
    ...(input.note ? { note: input.note } : {}),
  };
}

const meets = (value: number, target: Target): boolean => (target.op === '>=' ? value >= target.value : value <= target.value);

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
      [
        ...(f.target ? [`${f.target.op === '>=' ? '≥' : '≤'} ${fmt(f.target.value)}`] : []),
        ...(f.ratioTarget ? [`${f.ratioTarget.op === '>=' ? '≥' : '≤'} ${fmt(f.ratioTarget.value)}x`] : []),
      ].join(', '),
      f.met === null ? '' : f.met ? 'yes' : 'NO',
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const notes = figures.filter((f) => f.note).map((f) => `  ${f.label}: ${f.note}`);
  return [header, line(rows[0]!), ...rows.slice(1).map(line), ...(notes.length ? ['notes:', ...notes] : [])].join('\n');
}
