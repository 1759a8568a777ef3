/** Simulated agents for benchmarks and soak runs: many per process, the real wire protocol. */
export { startSimAgents, type SimAgents } from './start-sim-agents.js';
export type { SimAgentsOptions, SimCluster, SimCredentials } from './sim-options.js';
export type { SimStatsSnapshot } from './sim-stats.js';
