/**
 * An unknown flag as one line on stderr, exit 2 — meow's own report is two or more lines
 * ("Unknown flag" and then each flag). Wraps meow's options: checks `process.argv` against
 * the flags declared there before meow parses it, and returns the options untouched.
 */
import { exitWithError, UsageError } from './usage-error.js';

interface FlagSpec {
  readonly type?: string;
  readonly shortFlag?: string;
  readonly aliases?: readonly string[];
}

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const NEGATIVE_NUMBER = /^-(?:\d+|\d*\.\d+)(?:e[+-]?\d+)?$/i;

/** The first argument that names no declared flag (with its `=value` cut off), if any. */
export function findUnknownFlag(argv: readonly string[], flags: Readonly<Record<string, FlagSpec>>): string | undefined {
  const types = new Map<string, string | undefined>([
    ['help', 'boolean'],
    ['version', 'boolean'],
  ]);
  for (const [name, spec] of Object.entries(flags)) {
    for (const alias of [kebab(name), name, spec.shortFlag, ...(spec.aliases ?? [])]) if (alias) types.set(alias, spec.type);
  }
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--') return undefined;
    if (!arg.startsWith('-') || arg === '-' || NEGATIVE_NUMBER.test(arg)) continue;
    const flag = arg.split('=')[0]!;
    const name = flag.replace(/^--?/, '');
    const negated = name.startsWith('no-') && types.get(name.slice(3)) === 'boolean';
    if (!types.has(name) && !negated) return flag;
    // A string flag written `--flag value` takes the next argument as its value, unless
    // that looks like a flag itself (meow's parser reads it as one).
    const next = argv[i + 1];
    const takesNext = !arg.includes('=') && !negated && types.get(name) !== 'boolean';
    if (takesNext && next !== undefined && (!next.startsWith('-') || NEGATIVE_NUMBER.test(next))) i += 1;
  }
  return undefined;
}

/** Exit 2 with `program: unknown flag --x; see --help` when argv has a flag `options` does not declare. */
export function oneLineUnknownFlags<O extends { readonly flags?: Readonly<Record<string, FlagSpec>> }>(
  program: string,
  options: O,
  argv: readonly string[] = process.argv.slice(2),
): O {
  const unknown = findUnknownFlag(argv, options.flags ?? {});
  if (unknown !== undefined) exitWithError(program, new UsageError(`unknown flag ${unknown}; see --help`), () => true);
  return options;
}
