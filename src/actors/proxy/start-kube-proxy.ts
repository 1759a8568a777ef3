/**
 * The proxy driven by the host cluster: the cluster controller watches and reconciles
 * Cluster objects and feeds the proxy; the proxy tells it when agents come and go.
 */
import type { InspectionEvent } from 'xstate';
import type { KubeClient } from '../../kube/kube-client.js';
import type { Logger } from '../../log.js';
import { PkiPool } from '../../workers/pki-pool.js';
import { ClusterController } from '../kube/cluster-controller.js';
import { startProxy, type ProxyHandle } from './start-proxy.js';
import { ProxyMetrics } from '../../metrics/proxy-metrics.js';

export interface KubeProxyOptions {
  readonly client: KubeClient;
  readonly ca: { readonly certPem: string; readonly keyPem: string };
  readonly host: string;
  readonly port: number;
  readonly publishServiceAddress?: string;
  readonly hostKeyFile?: string;
  readonly logger: Logger;
  readonly inspect?: (event: InspectionEvent) => void;
  readonly pkiMode?: 'worker' | 'inline';
  /** See ProxyOptions.dataPlaneThreads. */
  readonly dataPlaneThreads?: number;
}

export interface KubeProxyHandle {
  readonly proxy: ProxyHandle;
  readonly controller: ClusterController;
  stop(): Promise<void>;
}

export async function startKubeProxy(options: KubeProxyOptions): Promise<KubeProxyHandle> {
  const pki = await PkiPool.create(options.ca, { mode: options.pkiMode ?? 'worker' });
  const optional = {
    ...(options.publishServiceAddress ? { publishServiceAddress: options.publishServiceAddress } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  };
  let proxy: ProxyHandle | undefined;
  const metrics = new ProxyMetrics({
    sessions: () => proxy?.sessions.size ?? 0,
    clustersConnected: () => [...(proxy?.gateways.values() ?? [])].filter((g) => g.sessionCount > 0).length,
    channelsOpen: () => [...(proxy?.sessions.values() ?? [])].reduce((n, s) => n + s.openChannels, 0),
  });
  const controller = new ClusterController({ client: options.client, pki, logger: options.logger, host: options.host, metrics, ...optional });
  try {
    await controller.start();
  } catch (error) {
    await controller.close();
    await pki.destroy();
    throw error;
  }
  try {
    proxy = await startProxy({
      host: options.host,
      port: options.port,
      ca: options.ca,
      clusters: controller,
      pki,
      metrics,
      logger: options.logger,
      onAgentsChanged: (name, count) => controller.agentsChanged(name, count),
      ...(options.hostKeyFile ? { hostKeyFile: options.hostKeyFile } : {}),
      ...(options.dataPlaneThreads ? { dataPlaneThreads: options.dataPlaneThreads } : {}),
      ...optional,
    });
  } catch (error) {
    await controller.close();
    await pki.destroy();
    throw error;
  }
  return {
    proxy,
    controller,
    stop: async () => {
      await proxy.stop();
      await controller.close();
      await pki.destroy();
    },
  };
}
