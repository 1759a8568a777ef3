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
  /** Lease timings (client-go's --leader-elect-lease-duration, -renew-deadline, -retry-period). */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** After a (re)start, the time agents have to come back before AgentAvailable turns False. */
  readonly agentGraceMs?: number;
}

export interface KubeProxy {
  readonly server: ProxyServer;
  /** The controller while serving. */
  readonly controller: ClusterController | undefined;
  readonly election: LeaderElection | undefined;
  /**
   * Stop: drain what is served (requests in flight get up to `graceMs`), then give the
   * Lease up so a successor takes over at once and finds the ports free, then close.
   */
  stop(graceMs?: number): Promise<void>;
}

export async function startKubeProxy(options: KubeProxyOptions): Promise<KubeProxy> {
  const log = options.logger;
  const server = await ProxyServer.start(options);
  let controller: ClusterController | undefined;

  /** The controller of a term that is still starting (its first lists): a stop closes it. */
  let starting: ClusterController | undefined;
  const serve = async (): Promise<void> => {
    const next = new ClusterController({
      client: options.client,
      pki: server.pki,
      logger: log,
      host: options.host,
      agentPort: server.port,
      metrics: server.metrics,
      ...(options.agentGraceMs === undefined ? {} : { agentGraceMs: options.agentGraceMs }),
      ...(options.publishServiceAddress ? { publishServiceAddress: options.publishServiceAddress } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    starting = next;
    try {
      await next.start();
    } catch (error) {
      await next.close();
      throw error;
    } finally {
      starting = undefined;
    }
    controller = next;
    server.serve(next);
  };
  /** Stop serving: at once (a lost lease), or draining for `graceMs` (a stop). */
  const unserve = async (graceMs: number | undefined): Promise<void> => {
    const current = controller;
    controller = undefined;
    if (graceMs === undefined) await server.unserve('lost the lease');
    else await server.drain(graceMs);
    await current?.close();
  };

  // Terms follow one another: a term's serve and unserve run in order.
  let term: Promise<void> = Promise.resolve();
  let election: LeaderElection | undefined;
  if (options.leaderElect) {
    election = startLeaderElection({
      client: options.client,
      logger: log,
      metrics: server.metrics,
      ...(options.leaseDurationMs ? { leaseDurationMs: options.leaseDurationMs } : {}),
      ...(options.renewDeadlineMs ? { renewDeadlineMs: options.renewDeadlineMs } : {}),
      ...(options.retryPeriodMs ? { retryPeriodMs: options.retryPeriodMs } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
      onStartedLeading: () => {
        log.info('Leading: reconciling and serving');
        term = term.then(() => serve().catch((error: unknown) => log.error({ error: errorMessage(error) }, 'Cannot serve while leading')));
      },
      onStoppedLeading: () => {
        log.warn('Not leading: stopping reconcile and serve');
        term = term.then(() => unserve(undefined));
      },
    });
  } else {
    // Serving starts once the first lists arrive (/readyz says so); a list that keeps
    // failing (e.g. 403) is logged and retried, and a stop still ends it.
    term = serve().catch((error: unknown) => log.error({ error: errorMessage(error) }, 'Cannot serve'));
  }
  return {
    server,
    get controller() {
      return controller;
    },
    election,
    stop: async (graceMs = 0) => {
      void starting?.close();
      term = term.then(() => unserve(graceMs));
      await term;
      await election?.stop();
      await term;
      await server.stop();
    },
  };
}
