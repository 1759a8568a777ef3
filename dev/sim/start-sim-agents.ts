/**
 * A fleet of simulated agents in this process: `clusters.length × perCluster` light
 * agents speaking the real wire protocol to one proxy, each serving `kubesphere` channels
 * by dialing only `upstream.kubernetes` / `upstream.kubesphere` and piping.
 */
import { EventEmitter } from 'node:events';
import { encodeAgentConfig } from '../../src/protocol/agent-config.js';
import { DEFAULT_KUBERNETES_PORT, DEFAULT_KUBESPHERE_PORT } from '../../src/protocol/constants.js';
import { normalizeHostPort } from '../../src/protocol/host-port.js';
import { SimAgent } from './sim-agent.js';
import { SimGate } from './sim-gate.js';
import { resolveSimOptions, type SimAgentsOptions, type SimCredentials } from './sim-options.js';
import { SimStats, type SimStatsSnapshot } from './sim-stats.js';

export interface SimAgents {
  /** Number of agents. */
  readonly size: number;
  /** Agents connected right now (config accepted, connection up). */
  connected(): number;
  isConnected(i: number): boolean;
  /** Cluster name of agent i. */
  clusterOf(i: number): string;
  /** Start agents created with `autoStart: false`. */
  connectAll(): void;
  /** Drop agent i's socket; it reconnects after its backoff. */
  kill(i: number): void;
  /** Agent i stops reading and answering until `resume(i)`. */
  stall(i: number): void;
  resume(i: number): void;
  stats(): SimStatsSnapshot;
  /** Called whenever the connected count changes; returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Resolve with the ms waited once `connected() >= n`; reject after `timeoutMs`. */
  waitConnected(n: number, timeoutMs: number): Promise<number>;
  /** Stop every agent and close every socket (no reconnects). */
  close(): Promise<void>;
}

export function startSimAgents(options: SimAgentsOptions): SimAgents {
  const kubernetes = normalizeHostPort(options.upstream.kubernetes, DEFAULT_KUBERNETES_PORT);
  const kubesphere = normalizeHostPort(options.upstream.kubesphere, DEFAULT_KUBESPHERE_PORT);
  if (!kubernetes || !kubesphere) throw new Error('startSimAgents: upstream.kubernetes and upstream.kubesphere must be host[:port]');
  const resolved = resolveSimOptions({ ...options, upstream: { kubernetes, kubesphere } }, new Set([kubernetes, kubesphere]));
  const stats = new SimStats();
  const gate = new SimGate(resolved.maxConnecting);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const onChange = () => changes.emit('change');
  const bytes = credentialBytes(resolved.credentials);

  const agents: SimAgent[] = [];
  for (const cluster of options.clusters) {
    const config = encodeAgentConfig({
      version: resolved.version,
      name: cluster.name,
      token: cluster.token,
      kubernetesSvcHost: kubernetes,
      kubeSphereSvcHost: kubesphere,
      ...bytes,
    });
    for (let k = 0; k < resolved.perCluster; k++) {
      agents.push(new SimAgent(agents.length, cluster.name, config, { options: resolved, stats, gate, onChange }));
    }
  }
  const at = (i: number): SimAgent => {
    const agent = agents[i];
    if (!agent) throw new RangeError(`no simulated agent ${i} (there are ${agents.length})`);
    return agent;
  };
  const connectAll = () => agents.forEach((a) => a.start());
  if (options.autoStart ?? true) connectAll();

  return {
    size: agents.length,
    connected: () => stats.connected,
    isConnected: (i) => at(i).connected,
    clusterOf: (i) => at(i).clusterName,
    connectAll,
    kill: (i) => at(i).kill(),
    stall: (i) => at(i).stall(),
    resume: (i) => at(i).resume(),
    stats: () => stats.snapshot(),
    onChange: (listener) => {
      changes.on('change', listener);
      return () => changes.off('change', listener);
    },
    waitConnected: (n, timeoutMs) => {
      const started = performance.now();
      if (stats.connected >= n) return Promise.resolve(0);
      return new Promise((resolve, reject) => {
        const listener = () => {
          if (stats.connected < n) return;
          clearTimeout(timer);
          changes.off('change', listener);
          resolve(performance.now() - started);
        };
        const timer = setTimeout(() => {
          changes.off('change', listener);
          reject(new Error(`timed out after ${timeoutMs} ms: ${stats.connected} of ${n} simulated agents connected`));
        }, timeoutMs);
        changes.on('change', listener);
      });
    },
    close: async () => {
      for (const agent of agents) agent.close();
      // Let terminated sockets emit their last events before the caller moves on.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

function credentialBytes(credentials: SimCredentials) {
  const buf = (value: Buffer | string | undefined) => (value === undefined ? undefined : Buffer.isBuffer(value) ? value : Buffer.from(value));
  const out: { caData?: Buffer; bearerToken?: Buffer; certData?: Buffer; keyData?: Buffer } = {};
  const caData = buf(credentials.caData);
  const bearerToken = buf(credentials.bearerToken);
  const certData = buf(credentials.certData);
  const keyData = buf(credentials.keyData);
  if (caData) out.caData = caData;
  if (bearerToken) out.bearerToken = bearerToken;
  if (certData) out.certData = certData;
  if (keyData) out.keyData = keyData;
  return out;
}
