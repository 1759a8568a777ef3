/**
 * Event-loop delay of the proxy child over a phase (bulk, storm): p99 and max.
 *
 * Measured inside the proxy through its inspector with `monitorEventLoopDelay` sampling
 * every 10 ms (as prom-client's default metrics do). Node records the time between
 * samples, so an idle loop reads ~10 ms; we subtract the interval and report the delay
 * beyond it. When the proxy serves `GET /metrics` with prom-client's
 * `nodejs_eventloop_lag_{p99,max}_seconds` (or `tower_event_loop_delay_*`), those raw
 * values are read too (each scrape resets prom-client's histogram).
 */
import { evaluate } from './bench-inspector.js';
import { metricSum, scrapeMetrics } from './bench-metrics.js';

const RESOLUTION_MS = 10;
const GLOBAL = '__towerBenchEld';

export interface EldReading {
  /** Delay beyond the sampling interval, ms. */
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  /** Raw values from the proxy's /metrics over the same window, when it serves them. */
  readonly metrics: { readonly p99Ms: number; readonly maxMs: number; readonly names: string } | null;
}

export class EldProbe {
  constructor(
    private readonly agentPort: number,
    private readonly inspectorUrl: string | undefined,
  ) {}

  async start(): Promise<void> {
    await scrapeEld(this.agentPort); // resets prom-client's histogram
    if (this.inspectorUrl) {
      await evaluate(
        this.inspectorUrl,
        `(() => { const { monitorEventLoopDelay } = require('node:perf_hooks'); globalThis.${GLOBAL}?.disable();` +
          ` const h = monitorEventLoopDelay({ resolution: ${RESOLUTION_MS} }); h.enable(); globalThis.${GLOBAL} = h; return true; })()`,
      );
    }
  }

  async read(): Promise<EldReading> {
    const metrics = await scrapeEld(this.agentPort);
    let p99Ms: number | null = null;
    let maxMs: number | null = null;
    if (this.inspectorUrl) {
      const value = (await evaluate(
        this.inspectorUrl,
        `(() => { const h = globalThis.${GLOBAL}; if (!h) return null; h.disable(); globalThis.${GLOBAL} = undefined;` +
          ` return { p99: h.percentile(99), max: h.max, count: h.count }; })()`,
      )) as { p99: number; max: number; count: number } | null;
      if (value && value.count > 0) {
        p99Ms = Math.max(0, value.p99 / 1e6 - RESOLUTION_MS);
        maxMs = Math.max(0, value.max / 1e6 - RESOLUTION_MS);
      }
    }
    return { p99Ms, maxMs, metrics };
  }
}

/** Raw p99/max from /metrics, or null when the proxy serves none. */
async function scrapeEld(port: number): Promise<EldReading['metrics']> {
  const text = await scrapeMetrics(port);
  if (!text) return null;
  for (const prefix of ['nodejs_eventloop_lag', 'tower_event_loop_delay']) {
    const p99 = metricSum(text, `${prefix}_p99_seconds`);
    const max = metricSum(text, `${prefix}_max_seconds`);
    if (p99 !== undefined && max !== undefined) return { p99Ms: p99 * 1000, maxMs: max * 1000, names: `${prefix}_{p99,max}_seconds` };
  }
  return null;
}
