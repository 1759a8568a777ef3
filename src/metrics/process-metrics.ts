/**
 * Node's process metrics (CPU, memory, GC, event-loop delay), collected once per process:
 * each collector starts monitors that are never released, so every proxy or agent
 * registry shares this one instead of starting its own.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    // nodejs_eventloop_lag_{p50,p90,p99,max}_seconds and the rest.
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 });
  }
  return processRegistry;
}

/** The text exposition of `registry` followed by the process metrics. */
export async function exposition(registry: Registry): Promise<string> {
  return `${await registry.metrics()}\n${await processMetrics().metrics()}`;
}
