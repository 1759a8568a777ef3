/**
 * The proxy under soak, started and stopped on one port as often as the run wants: either
 * `startProxy` in this process (default: its maps and actors can be inspected) or the real
 * `bin/proxy` as a child process (`--proxy-process`, see soak-proxy-process.ts).
 */
import { startProxy, type ProxyHandle } from '../../src/actors/proxy/start-proxy.js';
import { silentLogger } from '../../src/log.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import type { CaPem } from '../../src/pki/index.js';
import type { ClusterSource, ServedCluster } from '../../src/cluster-sources/cluster-source.js';
import { ActorTracker } from './soak-actors.js';
import { metricByLabel, parseMetrics, scrapeMetrics } from './soak-metrics.js';

export interface SoakCluster {
  readonly name: string;
  readonly token: string;
  readonly kubePort: number;
  readonly ksPort: number;
}

/** What the proxy holds right now. Fields a mode cannot see are undefined. */
export interface SoakProxyState {
  readonly sessions: number;
  readonly channelsOpen: number;
  /** Clusters whose listeners are open (in-process) or that have a serving agent (process). */
  readonly clustersConnected: number;
  /** Sessions the gateways count as serving. */
  readonly gatewaySessions: number | undefined;
  readonly gateways: number | undefined;
  /** RSS of the proxy child (process mode). */
  readonly rssBytes?: number;
}

/** What was left right after a stop: all zero when the proxy released everything. */
export interface StopCheck {
  readonly sessions: number;
  readonly gateways: number;
  readonly channelsOpen: number;
  /** Exit code of the child (process mode). */
  readonly exitCode?: number | string;
}

export interface SoakProxyLimits {
  readonly handshakeTimeoutMs: number;
  readonly configTimeoutMs: number;
  /** Time after which the proxy must have dropped a silent agent; undefined = not configurable. */
  readonly keepaliveWindowMs: number | undefined;
}

export interface SoakProxy {
  readonly mode: 'in-process' | 'process';
  readonly port: number;
  readonly limits: SoakProxyLimits;
  /** Bumped on every start and stop: a probe that saw it change was interrupted. */
  readonly epoch: number;
  readonly up: boolean;
  /** Actor counts (in-process only). */
  readonly actors: ActorTracker | undefined;
  /** What went wrong with the proxy outside any request (a child that died on its own). */
  problems(): readonly string[];
  start(): Promise<void>;
  stop(): Promise<StopCheck>;
  state(): Promise<SoakProxyState>;
  /** Handshake verdicts from /metrics, summed over every start of the proxy. */
  handshakes(): Promise<Record<string, number>>;
  /** Release what the runner itself holds (temp files); the proxy must be stopped. */
  close(): Promise<void>;
}

export interface SoakProxyConfig {
  readonly port: number;
  readonly clusters: readonly SoakCluster[];
  readonly ca: CaPem;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  readonly handshakeTimeoutMs: number;
  readonly configTimeoutMs: number;
}

export function servedCluster(c: SoakCluster): ServedCluster {
  return { name: c.name, token: c.token, kubernetesAPIServerPort: c.kubePort, kubesphereAPIServerPort: c.ksPort };
}

/** A fixed in-memory ClusterSource: the soak does not change clusters. */
function fixedClusters(clusters: readonly SoakCluster[]): ClusterSource {
  const map = new Map(clusters.map((c) => [c.name, servedCluster(c)]));
  return { snapshot: () => map, subscribe: () => () => {}, close: async () => {} };
}

export function inProcessProxy(config: SoakProxyConfig): SoakProxy {
  const actors = new ActorTracker();
  const clusters = fixedClusters(config.clusters);
  let handle: ProxyHandle | undefined;
  let epoch = 0;
  // One registry for every start, as the kube proxy shares its own with the controller:
  // counters add up over restarts, and each start does not add default collectors.
  const metrics = new ProxyMetrics({
    sessions: () => handle?.sessions.size ?? 0,
    clustersConnected: () => [...(handle?.gateways.values() ?? [])].filter((g) => g.sessionCount > 0).length,
    channelsOpen: () => channels(handle),
  });
  return {
    mode: 'in-process',
    port: config.port,
    limits: {
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      configTimeoutMs: config.configTimeoutMs,
      keepaliveWindowMs: config.keepaliveIntervalMs * (config.keepaliveCountMax + 1),
    },
    get epoch() {
      return epoch;
    },
    get up() {
      return handle !== undefined;
    },
    actors,
    problems: () => [],
    start: async () => {
      if (handle) return;
      epoch += 1;
      handle = await startProxy({
        host: '127.0.0.1',
        port: config.port,
        ca: config.ca,
        clusters,
        logger: silentLogger(),
        inspect: actors.inspect,
        metrics,
        limits: {
          keepaliveIntervalMs: config.keepaliveIntervalMs,
          keepaliveCountMax: config.keepaliveCountMax,
          handshakeTimeoutMs: config.handshakeTimeoutMs,
          configTimeoutMs: config.configTimeoutMs,
        },
      });
    },
    stop: async () => {
      const h = handle;
      if (!h) return { sessions: 0, gateways: 0, channelsOpen: 0 };
      handle = undefined;
      epoch += 1;
      await h.stop();
      return { sessions: h.sessions.size, gateways: h.gateways.size, channelsOpen: channels(h) };
    },
    state: async () => {
      const gateways = [...(handle?.gateways.values() ?? [])];
      return {
        sessions: handle?.sessions.size ?? 0,
        channelsOpen: channels(handle),
        clustersConnected: gateways.filter((g) => g.sessionCount > 0).length,
        gatewaySessions: gateways.reduce((n, g) => n + g.sessionCount, 0),
        gateways: gateways.length,
      };
    },
    handshakes: async () => {
      // From the proxy's /metrics while it serves; from the same registry when it is down.
      const samples = handle ? await scrapeMetrics(config.port) : parseMetrics((await metrics.text()).body);
      return metricByLabel(samples, 'tower_proxy_handshakes_total', 'result');
    },
    close: async () => {},
  };
}

function channels(handle: ProxyHandle | undefined): number {
  return [...(handle?.sessions.values() ?? [])].reduce((n, s) => n + s.openChannels, 0);
}
