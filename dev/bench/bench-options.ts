/** Flags of `npm run bench`, with the full and the `--quick` defaults. */
import { parseArgs } from 'node:util';

export const PHASES = ['bulk', 'small', 'sessions', 'storm', 'pki'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  readonly json: boolean;
  readonly quick: boolean;
  readonly only: ReadonlySet<Phase>;
  readonly runs: number;
  readonly bulkBytes: number;
  readonly requests: number;
  readonly concurrency: number;
  readonly rpsMs: number;
  readonly sizes: readonly number[];
  readonly stormAgents: number;
  readonly maxConnecting: number;
  readonly pkiCount: number;
  readonly proxyNodeArgs: readonly string[];
  readonly timeoutMs: number;
  readonly keep: boolean;
}

export const USAGE = `Usage: npm run bench -- [flags]

Starts an upstream, the real proxy and agent (child processes) and simulated agents, all on
127.0.0.1, and measures each figure through the tunnel and directly (median of --runs).

  --json                 print one JSON object instead of the table
  --quick                few and small runs (a smoke test, ~15 s)
  --only LIST            phases, comma-separated: ${PHASES.join(',')} (default all)
  --runs N               runs per figure (default 3; quick 1)
  --bulk-mib N           size of the bulk GET (default 200; quick 20)
  --requests N           1 KB GETs with a new connection each (default 500; quick 50)
  --concurrency N        keep-alive clients for req/s (default 32)
  --rps-seconds S        how long req/s is measured (default 5; quick 1)
  --sizes LIST           idle-agent counts for RSS and handshakes (default 100,1000; quick 10,50)
  --storm-agents N       agents in the reconnect storm (default 1000; quick 50)
  --max-connecting N     simulated handshakes in flight at most, 0 = all at once (default 0)
  --pki-count N          certificates per PKI measurement (default 200; quick 20)
  --proxy-node-arg ARG   extra node flag for the proxy child (repeatable), e.g. --cpu-prof
  --timeout S            give up after S seconds (default 1800)
  --keep                 keep the temp dir (logs, clusters files, profiles)
  --help                 this text`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      runs: { type: 'string' },
      'bulk-mib': { type: 'string' },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      'rps-seconds': { type: 'string' },
      sizes: { type: 'string' },
      'storm-agents': { type: 'string' },
      'max-connecting': { type: 'string' },
      'pki-count': { type: 'string' },
      'proxy-node-arg': { type: 'string', multiple: true },
      timeout: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const int = (flag: string, text: string | undefined, full: number, short: number, min = 1): number => {
    if (text === undefined) return quick ? short : full;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} ${text}: must be an integer ≥ ${min}`);
    return n;
  };
  const only = new Set<Phase>();
  for (const name of (values.only ?? PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(PHASES as readonly string[]).includes(name)) throw new Error(`--only ${name}: not a phase; choose from ${PHASES.join(', ')}`);
    only.add(name as Phase);
  }
  const sizes = (values.sizes ?? (quick ? '10,50' : '100,1000')).split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--sizes ${values.sizes}: a list of positive integers`);
    return n;
  });
  return {
    json: values.json ?? false,
    quick,
    only,
    runs: int('runs', values.runs, 3, 1),
    bulkBytes: int('bulk-mib', values['bulk-mib'], 200, 20) * 1024 * 1024,
    requests: int('requests', values.requests, 500, 50),
    concurrency: int('concurrency', values.concurrency, 32, 32),
    rpsMs: int('rps-seconds', values['rps-seconds'], 5, 1) * 1000,
    sizes,
    stormAgents: int('storm-agents', values['storm-agents'], 1000, 50),
    maxConnecting: int('max-connecting', values['max-connecting'], 0, 0, 0),
    pkiCount: int('pki-count', values['pki-count'], 200, 20),
    proxyNodeArgs: values['proxy-node-arg'] ?? [],
    timeoutMs: int('timeout', values.timeout, 1800, 1800) * 1000,
    keep: values.keep ?? false,
  };
}
