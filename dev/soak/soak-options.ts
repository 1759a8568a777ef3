/** Flags of `npm run soak`, each with its default and its bound. */
import { parseArgs } from 'node:util';

export interface SoakOptions {
  readonly agents: number;
  readonly durationMs: number;
  readonly perCluster: number;
  readonly faults: boolean;
  readonly json: boolean;
  readonly proxyProcess: boolean;
  /** Requests started per second, at most (all kinds, all clusters). */
  readonly rate: number;
  /** Requests in flight at most; a tick that would exceed it sheds the request. */
  readonly concurrency: number;
  readonly requestTimeoutMs: number;
  /** Faults per second (only with `faults`). */
  readonly killsPerSecond: number;
  readonly stallsPerSecond: number;
  readonly badInputsPerSecond: number;
  /** A proxy restart about this often (jittered ±25 %); 0 = never. */
  readonly restartEveryMs: number;
  /** Proxy keepalive probe interval and misses (in-process proxy only). */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  readonly seed: number;
  /** Simulated handshakes in flight at most (0 = no limit). */
  readonly maxConnecting: number;
}

export const USAGE = `Usage: npm run soak -- --agents N --duration S [--faults] [--json] [flags]

Runs N simulated agents (this process, the real wire protocol) against a real proxy on
127.0.0.1, sends a steady mix of requests through random clusters, optionally injects
faults, then stops everything and checks that nothing is left behind. Exit code 1 when
any invariant fails (a line says which), 2 on a bad flag.

  --agents N            simulated agents (default 50)
  --duration S          seconds of load (default 30)
  --per-cluster K       agents per cluster, HA (default 2; 1 = each agent its own cluster)
  --faults              also kill agent sockets, stall agents, send bad inputs, restart the proxy
  --json                print one JSON object (progress goes to stderr)
  --proxy-process       run bin/proxy as a child process instead of startProxy in-process
                        (no stalls then: bin/proxy's keepalive is fixed at 15 s × 3)
  --rate R              requests started per second at most (default 20 + N/4, ≤ 150)
  --concurrency C       requests in flight at most (default 64)
  --request-timeout S   every request fails as "timeout" after S seconds (default 10)
  --kills R             agent sockets killed per second with --faults (default max(0.5, N/100))
  --stalls R            agents stalled per second with --faults (default max(0.3, N/300))
  --bad-inputs R        bad-input probes per second with --faults (default 3)
  --restart-every S     proxy restart about every S seconds with --faults
                        (default max(2, duration/3); 0 = never)
  --keepalive-ms MS     proxy SSH keepalive interval (default 300; in-process only)
  --keepalive-count N   keepalive misses before the proxy drops an agent (default 3)
  --max-connecting N    simulated handshakes in flight at most, 0 = no limit (default 0)
  --seed N              seed of the random choices (default: time based; printed)
  --help                this text

Run as \`node --expose-gc dist/dev/soak/soak.js …\` to sample the heap after a full GC.
\`--hostile\` runs the hostile-peer attacks instead (\`--hostile --help\`).`;

export function parseSoakOptions(argv: readonly string[]): SoakOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      agents: { type: 'string' },
      duration: { type: 'string' },
      'per-cluster': { type: 'string' },
      faults: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'proxy-process': { type: 'boolean', default: false },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      'request-timeout': { type: 'string' },
      kills: { type: 'string' },
      stalls: { type: 'string' },
      'bad-inputs': { type: 'string' },
      'restart-every': { type: 'string' },
      'keepalive-ms': { type: 'string' },
      'keepalive-count': { type: 'string' },
      'max-connecting': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const num = (flag: string, text: string | undefined, fallback: number, min: number, max: number, integer = true): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      throw new Error(`--${flag} ${text}: must be ${integer ? 'an integer' : 'a number'} in ${min}-${max}`);
    }
    return n;
  };
  const agents = num('agents', values.agents, 50, 1, 20_000);
  const durationS = num('duration', values.duration, 30, 1, 86_400, false);
  return {
    agents,
    durationMs: Math.round(durationS * 1000),
    perCluster: num('per-cluster', values['per-cluster'], Math.min(2, agents), 1, 100),
    faults: values.faults ?? false,
    json: values.json ?? false,
    proxyProcess: values['proxy-process'] ?? false,
    rate: num('rate', values.rate, Math.min(150, 20 + Math.round(agents / 4)), 0.1, 10_000, false),
    concurrency: num('concurrency', values.concurrency, 64, 1, 10_000),
    requestTimeoutMs: Math.round(num('request-timeout', values['request-timeout'], 10, 0.5, 600, false) * 1000),
    killsPerSecond: num('kills', values.kills, Math.max(0.5, agents / 100), 0, 1_000, false),
    stallsPerSecond: num('stalls', values.stalls, Math.max(0.3, agents / 300), 0, 1_000, false),
    badInputsPerSecond: num('bad-inputs', values['bad-inputs'], 3, 0, 1_000, false),
    restartEveryMs: Math.round(num('restart-every', values['restart-every'], Math.max(2, durationS / 3), 0, 86_400, false) * 1000),
    keepaliveIntervalMs: num('keepalive-ms', values['keepalive-ms'], 300, 50, 60_000),
    keepaliveCountMax: num('keepalive-count', values['keepalive-count'], 3, 1, 100),
    seed: num('seed', values.seed, Date.now() % 2 ** 31, 0, 2 ** 31 - 1),
    maxConnecting: num('max-connecting', values['max-connecting'], 0, 0, 100_000),
  };
}

/** A small seeded generator (mulberry32): the same seed makes the same choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
