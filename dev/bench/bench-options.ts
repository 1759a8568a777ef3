/** Flags of `npm run bench`, with the full and the `--quick` defaults. */
import { parseArgs } from 'node:util';
import { DEPLOYED_HEAP_NODE_ARGS } from './deployed-heap.js';

export const PHASES = ['bulk', 'small', 'sessions', 'storm', 'pki', 'footprint', 'agent', 'fleet', 'wan', 'fairness', 'h2'] as const;
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
  /** footprint: configured-cluster counts, and which proxy modes. */
  readonly configured: readonly number[];
  readonly footprintModes: ReadonlySet<'file' | 'kube'>;
  /** fleet: simulated agents, the clusters they belong to, and the child processes running them. */
  readonly fleetAgents: number;
  readonly fleetClusters: number;
  readonly fleetProcs: number;
  /** wan: round-trip times through the delaying relay, and the stream size. */
  readonly rttsMs: readonly number[];
  readonly wanBytes: number;
  /** fairness: 1 KiB GETs measured idle and during the bulk download. */
  readonly fairnessRequests: number;
  /** h2: concurrent watches of one client. */
  readonly watches: number;
  /** The children run with their Deployments' V8 young generation (dev/bench/deployed-heap.ts). */
  readonly asDeployed: boolean;
  /** Extra node flags for the children, the deployed heap's included. */
  readonly proxyNodeArgs: readonly string[];
  readonly agentNodeArgs: readonly string[];
  /** Memory readings wait this long at most for V8 to settle a child's heap. */
  readonly settleMs: number;
  readonly timeoutMs: number;
  readonly keep: boolean;
}

export const USAGE = `Usage: npm run bench -- [flags]

Starts an upstream, the real proxy and agent (child processes) and simulated agents, all on
127.0.0.1, and measures each figure through the tunnel and directly (median of --runs).

  --json                 print one JSON object instead of the table
  --quick                few and small runs of every phase (a smoke test, a few minutes)
  --only LIST            phases, comma-separated: ${PHASES.join(',')} (default all)
  --runs N               runs per figure (default 3; quick 1)
  --bulk-mib N           size of the bulk GET (default 200; quick 20)
  --requests N           1 KB GETs with a new connection each (default 500; quick 50)
  --concurrency N        keep-alive clients for req/s (default 32)
  --rps-seconds S        how long req/s is measured (default 5; quick 1)
  --sizes LIST           idle-agent counts for RSS and handshakes (default 200,1000; quick 10,50)
  --storm-agents N       agents in the reconnect storm (default 1000; quick 50)
  --max-connecting N     simulated handshakes in flight at most, 0 = all at once (default 0)
  --pki-count N          certificates per PKI measurement (default 200; quick 20)
  --configured LIST      footprint: configured clusters (default 0,200,2000; quick 0,20,200)
  --footprint-modes LIST footprint: file,kube (default both; kube runs a devcluster)
  --settle-seconds S     memory readings wait up to S for V8's memory reducer to shrink a
                         child's start-up heap (default 90; quick 0: read at once)
  --fleet-agents N       fleet: simulated idle agents on one proxy (default 10000; quick 200)
  --fleet-clusters N     fleet: clusters they belong to (default 2000; quick 40); each
                         connected cluster holds 2 listening sockets, and the proxy's
                         file limit (ulimit -n) must cover agents + 2 × clusters
  --fleet-procs N        fleet: child processes running the simulated agents (default 4; quick 2)
  --rtts LIST            wan: round-trip times in ms through the relay (default 0,50,200; quick 0,50)
  --wan-mib N            wan: size of the one stream (default 200; quick 20)
  --fairness-requests N  fairness: 1 KiB GETs idle and during a bulk download (default 500; quick 50)
  --watches N            h2: concurrent watches of one client (default 50; quick 10)
  --as-deployed          run the proxy and agent with the V8 young generation their
                         Deployments' memory limits give them (1 MiB semi-spaces; without
                         it they get this host's default, 16–64 MiB)
  --proxy-node-arg ARG   extra node flag for the proxy child (repeatable), e.g. --cpu-prof
  --agent-node-arg ARG   extra node flag for the agent children (repeatable)
  --timeout S            give up after S seconds (default 5400)
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
      configured: { type: 'string' },
      'footprint-modes': { type: 'string' },
      'fleet-agents': { type: 'string' },
      'fleet-clusters': { type: 'string' },
      'fleet-procs': { type: 'string' },
      rtts: { type: 'string' },
      'wan-mib': { type: 'string' },
      'fairness-requests': { type: 'string' },
      watches: { type: 'string' },
      'as-deployed': { type: 'boolean', default: false },
      'proxy-node-arg': { type: 'string', multiple: true },
      'agent-node-arg': { type: 'string', multiple: true },
      'settle-seconds': { type: 'string' },
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
  const list = (flag: string, text: string | undefined, full: string, short: string, min: number): number[] =>
    (text ?? (quick ? short : full)).split(',').map((part) => {
      const n = Number(part.trim());
      if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} ${text}: a comma-separated list of integers ≥ ${min}`);
      return n;
    });
  const footprintModes = new Set<'file' | 'kube'>();
  for (const mode of (values['footprint-modes'] ?? 'file,kube').split(',').map((m) => m.trim())) {
    if (mode !== 'file' && mode !== 'kube') throw new Error(`--footprint-modes ${mode}: choose from file, kube`);
    footprintModes.add(mode);
  }
  const deployed = values['as-deployed'] ? DEPLOYED_HEAP_NODE_ARGS : [];
  return {
    json: values.json ?? false,
    quick,
    only,
    runs: int('runs', values.runs, 3, 1),
    bulkBytes: int('bulk-mib', values['bulk-mib'], 200, 20) * 1024 * 1024,
    requests: int('requests', values.requests, 500, 50),
    concurrency: int('concurrency', values.concurrency, 32, 32),
    rpsMs: int('rps-seconds', values['rps-seconds'], 5, 1) * 1000,
    sizes: list('sizes', values.sizes, '200,1000', '10,50', 1),
    stormAgents: int('storm-agents', values['storm-agents'], 1000, 50),
    maxConnecting: int('max-connecting', values['max-connecting'], 0, 0, 0),
    pkiCount: int('pki-count', values['pki-count'], 200, 20),
    configured: list('configured', values.configured, '0,200,2000', '0,20,200', 0),
    footprintModes,
    fleetAgents: int('fleet-agents', values['fleet-agents'], 10_000, 200),
    fleetClusters: int('fleet-clusters', values['fleet-clusters'], 2_000, 40),
    fleetProcs: int('fleet-procs', values['fleet-procs'], 4, 2),
    rttsMs: list('rtts', values.rtts, '0,50,200', '0,50', 0),
    wanBytes: int('wan-mib', values['wan-mib'], 200, 20) * 1024 * 1024,
    fairnessRequests: int('fairness-requests', values['fairness-requests'], 500, 50),
    watches: int('watches', values.watches, 50, 10),
    asDeployed: values['as-deployed'] ?? false,
    proxyNodeArgs: [...deployed, ...(values['proxy-node-arg'] ?? [])],
    agentNodeArgs: [...deployed, ...(values['agent-node-arg'] ?? [])],
    settleMs: int('settle-seconds', values['settle-seconds'], 90, 0, 0) * 1000,
    timeoutMs: int('timeout', values.timeout, 5400, 5400) * 1000,
    keep: values.keep ?? false,
  };
}
