/**
 * The proxy driven by the host cluster. The agent port is bound first; then (with
 * `leaderElect`, only while holding the Lease) the cluster controller watches and
 * reconciles Cluster objects and the proxy serves them, telling the controller when
 * agents come and go. Losing the Lease stops reconciling and serving at once; the agent
 * port stays (a standby answers /livez, and /readyz with 503).
 */
import { errorMessage } from '../../errors.js';
import type { KubeClient } from '../../kube/kube-client.js';
import { ClusterController } from '../kube/cluster-controller.js';
import { startLeaderElection, type LeaderElection } from '../kube/leader-election.js';
import { ProxyServer, type ProxyServerOptions } from './proxy-server.js';

export interface KubeProxyOptions extends ProxyServerOptions {
  readonly client: KubeClient;
  /** Serve only while holding Lease kubesphere-system/tower. */
  readonly leaderElect?: boolean;
}

export interface KubeProxy {
  readonly server: ProxyServer;
  /** The controller while serving. */
  readonly controller: ClusterController | undefined;
  readonly election: LeaderElection | undefined;
  stop(): Promise<void>;
}

export async function startKubeProxy(options: KubeProxyOptions): Promise<KubeProxy> {
  const log = options.logger;
  const server = await ProxyServer.start(options);
  let controller: ClusterController | undefined;

  const serve = async (): Promise<void> => {
    const next = new ClusterController({
      client: options.client,
      pki: server.pki,
      logger: log,
      host: options.host,
      agentPort: server.port,
      metrics: server.metrics,
      ...(options.publishServiceAddress ? { publishServiceAddress: options.publishServiceAddress } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    try {
      await next.start();
    } catch (error) {
      await next.close();
      throw error;
    }
    controller = next;
    server.serve(next);
  };
  const unserve = async (reason: string): Promise<void> => {
    const current = controller;
    controller = undefined;
    await server.unserve(reason);
    await current?.close();
  };

  if (!options.leaderElect) {
    try {
      await serve();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return {
      server,
      get controller() {
        return controller;
      },
      election: undefined,
      stop: async () => (await unserve('proxy stopping'), await server.stop()),
    };
  }

  // Terms follow one another: a term's serve and unserve run in order.
  let term: Promise<void> = Promise.resolve();
  const election = startLeaderElection({
    client: options.client,
    logger: log,
    ...(options.inspect ? { inspect: options.inspect } : {}),
    onStartedLeading: () => {
      log.info('Leading: reconciling and serving');
      term = term.then(() => serve().catch((error: unknown) => log.error({ error: errorMessage(error) }, 'Cannot serve while leading')));
    },
    onStoppedLeading: () => {
      log.warn('Not leading: stopping reconcile and serve');
      term = term.then(() => unserve('lost the lease'));
    },
  });
  return {
    server,
    get controller() {
      return controller;
    },
    election,
    // Stop serving first, then give the Lease up, so a successor finds the ports free.
    stop: async () => {
      term = term.then(() => unserve('proxy stopping'));
      await term;
      await election.stop();
      await term;
      await server.stop();
    },
  };
}
