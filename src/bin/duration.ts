import { UsageError } from './usage-error.js';
/** Go-style durations as the Go tower's flags take them: `30s`, `2m`, `1h30m`, `500ms`. */
const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds, or undefined when `text` is not a duration. A bare `0` is allowed. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  let matched = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched += 1;
    if (matched > 8) return undefined;
  }
  return matched > 0 ? total : undefined;
}

/** A duration flag's value in milliseconds; a usage error naming the flag otherwise. */
export function durationFlag(flag: string, value: string, { min = 0 }: { min?: number } = {}): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`--${flag} ${value}: not a duration (examples: 30s, 2m, 1h)`);
  if (ms < min) throw new UsageError(`--${flag} ${value}: must be at least ${min} ms`);
  return ms;
}

/** A positive integer flag's value; a usage error naming the flag otherwise. */
export function countFlag(flag: string, value: string, { min = 1, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {}): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${flag} ${value}: must be an integer in ${min}-${max}`);
  return n;
}
