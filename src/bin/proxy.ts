/** `proxy`: the host-cluster side of the tunnel. Flags as the Go tower's proxy. */
import meow from 'meow';
import { startProxy } from '../actors/proxy/start-proxy.js';
import type { KubeClient, KubeconfigSource } from '../kube/kube-client.js';
import { createLogger } from '../log.js';
import { sshCryptoBindingMissing } from '../protocol/ssh-crypto-binding.js';
import { errorMessage } from '../errors.js';
import { loadCaFromFiles } from '../pki/ca-load.js';
import { PkiError } from '../pki/errors.js';
import { ClusterFileError } from '../cluster-sources/cluster-file-error.js';
import { openClusterFile } from '../cluster-sources/cluster-file.js';
import { MAX_DATA_PLANE_THREADS } from '../workers/data-plane-pool.js';
import { startInspection } from './inspection.js';
import { nudgeMemoryReducer } from './memory-reducer-nudge.js';
import { raiseStreamHighWaterMark } from './stream-high-water-mark.js';
import { parseListenAddress } from './listen-address.js';
import { exitWithError, UsageError } from './usage-error.js';
import { LIMIT_FLAGS, LIMIT_FLAGS_HELP, parseLimitFlags } from './proxy-limit-flags.js';
import { oneLineUnknownFlags } from './unknown-flags.js';

const cli = meow(
  `
  Usage
    $ tower-proxy --ca-cert ca.crt --ca-key ca.key [--kubeconfig FILE] [flags]      (Cluster objects in Kubernetes)
    $ tower-proxy --ca-cert ca.crt --ca-key ca.key --clusters clusters.yaml [flags]  (Cluster objects in a file)

  Serves each member cluster's kube-apiserver (HTTPS) and ks-apiserver (HTTP) through the
  tunnels its agents open to this proxy.

  Flags
    --ca-cert FILE                 CA certificate (PEM) that signs the serving certificates
                                   and the client certificates the kube listeners accept
    --ca-key FILE                  Its private key: RSA or ECDSA, PKCS#1, PKCS#8 or SEC1 PEM
    --host ADDR                    Address for the agent port and the cluster listeners
                                   (default 0.0.0.0)
    --port N                       Agent port, 1024-49151 (default 8080)
    --publish-service-address ADDR Address the member endpoints are published at; added to
                                   every serving certificate
    --kubeconfig FILE              Host cluster kubeconfig; Cluster objects there drive the proxy
                                   (default: in-cluster config, else $KUBECONFIG/~/.kube/config)
    --leader-elect                 Only the holder of Lease kubesphere-system/tower reconciles
                                   and serves (30s lease, 15s renew deadline, 5s retry)
    --clusters FILE                Serve the Cluster objects (YAML or JSON) in FILE instead of
                                   watching Kubernetes; edits apply live
    --host-key FILE                SSH host key (PEM/OpenSSH); default: a new one per start
    --data-plane-threads N         Run agents' SSH sessions in N worker threads, 0-64; 0 runs
                                   them on the main thread (default 0: faster on 2 cores; see
                                   docs/performance.md before raising it)
    --inspect URL                  Send xstate inspection events to this WebSocket inspector
    --debug-address HOST:PORT      Serve the built-in inspector page here, never on the agent
                                   port (default: off; it shows live state, so keep it on a
                                   loopback or private address)
    --log-format json|text         Log format (default json)
    --v N                          Log verbosity: 0-3 info, 4-5 debug, 6+ trace (default 0)
    --help                         Show this help
${LIMIT_FLAGS_HELP}`,
  oneLineUnknownFlags('proxy', {
    importMeta: import.meta,
    description: 'tower-proxy: the host-cluster side of the Tower tunnel.',
    allowUnknownFlags: false,
    flags: {
      caCert: { type: 'string' },
      caKey: { type: 'string' },
      host: { type: 'string', default: '0.0.0.0' },
      port: { type: 'string', default: '8080' },
      publishServiceAddress: { type: 'string' },
      clusters: { type: 'string' },
      kubeconfig: { type: 'string' },
      leaderElect: { type: 'boolean', default: false },
      hostKey: { type: 'string' },
      dataPlaneThreads: { type: 'string', default: '0' },
      inspect: { type: 'string' },
      debugAddress: { type: 'string' },
      logFormat: { type: 'string', default: 'json' },
      v: { type: 'string', default: '0' },
      ...LIMIT_FLAGS,
    },
  }),
);
// meow names the process after the package's first bin; name it for what it is.
process.title = 'tower-proxy';

async function main(): Promise<void> {
  const f = cli.flags;
  if (cli.input.length > 0) throw new UsageError(`unexpected argument ${cli.input[0]}; see --help`);
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 1024 || port > 49151) throw new UsageError(`--port ${f.port}: must be an integer in 1024-49151`);
  const verbosity = Number(f.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) throw new UsageError(`--v ${f.v}: must be a non-negative integer`);
  const dataPlaneThreads = Number(f.dataPlaneThreads);
  if (!/^\d+$/.test(f.dataPlaneThreads) || dataPlaneThreads > MAX_DATA_PLANE_THREADS) {
    throw new UsageError(
      `--data-plane-threads ${f.dataPlaneThreads}: must be an integer in 0-${MAX_DATA_PLANE_THREADS} (0 runs SSH sessions on the main thread)`,
    );
  }
  if (f.logFormat !== 'json' && f.logFormat !== 'text') throw new UsageError(`--log-format ${f.logFormat}: must be json or text`);
  if (!f.caCert || !f.caKey)
    throw new UsageError("--ca-cert and --ca-key are required: the proxy CA signs the cluster listeners' certificates");
  const debugAddress = f.debugAddress ? parseListenAddress('debug-address', f.debugAddress) : undefined;
  if (debugAddress?.port === port) throw new UsageError(`--debug-address ${f.debugAddress}: must not be the agent port (--port ${port})`);
  if (f.clusters && (f.kubeconfig || f.leaderElect)) {
    throw new UsageError('--clusters serves a file instead of Kubernetes; it cannot be combined with --kubeconfig or --leader-elect');
  }

  const { limits, shutdownGraceMs, lease } = parseLimitFlags(f);
  const logger = createLogger({ name: 'proxy', verbosity, pretty: f.logFormat === 'text' });
  nudgeMemoryReducer();
  raiseStreamHighWaterMark();
  const ca = await loadCaFromFiles({ certFile: f.caCert, keyFile: f.caKey });
  // What only one mode uses is imported in that mode (the inspector, the Kubernetes controller).
  const inspection = await startInspection({ inspectUrl: f.inspect, debugAddress, processName: 'tower-proxy', logger });
  const common = {
    host: f.host,
    port,
    ca,
    logger,
    ...(f.publishServiceAddress ? { publishServiceAddress: f.publishServiceAddress } : {}),
    ...(f.hostKey ? { hostKeyFile: f.hostKey } : {}),
    ...(dataPlaneThreads > 0 ? { dataPlaneThreads } : {}),
    ...(inspection.inspect ? { inspect: inspection.inspect } : {}),
    limits,
  };

  let running: Running;
  if (f.clusters) {
    const clusters = await openClusterFile(f.clusters, { logger });
    logger.info({ host: f.host, port, clusters: f.clusters, clusterCount: clusters.snapshot().size }, 'Starting proxy');
    running = await listenOrExplain(async () => {
      const proxy = await startProxy({ ...common, clusters }).catch(async (error: unknown) => {
        await clusters.close();
        throw error;
      });
      return { stop: async (graceMs) => (await proxy.stop(graceMs), await clusters.close()) };
    });
  } else {
    const [{ KubeClient }, { startKubeProxy }] = await Promise.all([
      import('../kube/kube-client.js'),
      import('../actors/proxy/start-kube-proxy.js'),
    ]);
    let client: KubeClient;
    try {
      client = KubeClient.load(kubeconfigSource(f.kubeconfig));
    } catch (error) {
      throw new UsageError(`${errorMessage(error)}; pass --kubeconfig FILE or --clusters FILE`);
    }
    logger.info({ host: f.host, port, apiserver: client.server.origin, leaderElect: f.leaderElect }, 'Starting proxy');
    running = await listenOrExplain(() => startKubeProxy({ ...common, client, leaderElect: f.leaderElect, ...lease }));
  }
  // Once started: a usage mistake stays the one line it prints.
  const sshCrypto = sshCryptoBindingMissing();
  if (sshCrypto) logger.warn(sshCrypto);

  // The first signal drains (requests in flight get --shutdown-grace); a second one stops at once.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'Second signal: stopping now');
      logger.flush();
      process.exit(0);
    }
    stopping = true;
    logger.info({ signal, graceMs: shutdownGraceMs }, 'Stopping: draining requests in flight');
    await running.stop(shutdownGraceMs);
    await inspection.stop();
    logger.info('Stopped');
    logger.flush();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

interface Running {
  stop(graceMs: number): Promise<void>;
}

/** A port already in use is the user's to fix: report it as a usage error (exit 2). */
async function listenOrExplain(start: () => Promise<Running>): Promise<Running> {
  try {
    return await start();
  } catch (error) {
    const message = errorMessage(error);
    throw /already in use|EACCES|EADDRNOTAVAIL/.test(message) ? new UsageError(message) : error;
  }
}

/** Which kubeconfig: the flag, else in-cluster when in a pod, else the default one. */
function kubeconfigSource(path: string | undefined): KubeconfigSource {
  if (path) return { path };
  if (process.env['KUBERNETES_SERVICE_HOST']) return { inCluster: true };
  return { default: true };
}

main().catch((error: unknown) =>
  exitWithError('proxy', error, (e) => e instanceof UsageError || e instanceof PkiError || e instanceof ClusterFileError),
);
