/** `proxy`: the host-cluster side of the tunnel. Flags as the Go tower's proxy. */
import meow from 'meow';
import { connectInspector } from '../actors/inspect.js';
import { startProxy } from '../actors/proxy/start-proxy.js';
import { createLogger } from '../log.js';
import { loadCaFromFiles } from '../pki/ca-load.js';
import { PkiError } from '../pki/errors.js';
import { ClusterFileError } from '../registry/cluster-file-error.js';
import { openClusterFile } from '../registry/cluster-file.js';
import { exitWithError, UsageError } from './usage-error.js';

const cli = meow(
  `
  Usage
    $ proxy --ca-cert ca.crt --ca-key ca.key --clusters clusters.yaml [flags]

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
    --clusters FILE                Cluster objects (YAML or JSON) to serve; edits apply live
    --kubeconfig FILE              Host cluster kubeconfig (Cluster watch: not available yet)
    --leader-elect                 Leader election (needs the Cluster watch: not available yet)
    --host-key FILE                SSH host key (PEM/OpenSSH); default: a new one per start
    --inspect URL                  Send xstate inspection events to this WebSocket inspector
    --log-format json|text         Log format (default json)
    --v N                          Log verbosity: 0-3 info, 4-5 debug, 6+ trace (default 0)
    --help                         Show this help
`,
  {
    importMeta: import.meta,
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
      inspect: { type: 'string' },
      logFormat: { type: 'string', default: 'json' },
      v: { type: 'string', default: '0' },
    },
  },
);

async function main(): Promise<void> {
  const f = cli.flags;
  if (cli.input.length > 0) throw new UsageError(`unexpected argument ${cli.input[0]}; see --help`);
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 1024 || port > 49151) throw new UsageError(`--port ${f.port}: must be an integer in 1024-49151`);
  const verbosity = Number(f.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) throw new UsageError(`--v ${f.v}: must be a non-negative integer`);
  if (f.logFormat !== 'json' && f.logFormat !== 'text') throw new UsageError(`--log-format ${f.logFormat}: must be json or text`);
  if (!f.caCert || !f.caKey) throw new UsageError('--ca-cert and --ca-key are required: the proxy CA signs the cluster listeners\' certificates');
  if (!f.clusters) {
    throw new UsageError(
      f.kubeconfig || f.leaderElect
        ? 'watching Cluster objects through --kubeconfig (and --leader-elect) is not available yet; pass --clusters FILE'
        : '--clusters FILE is required: it lists the clusters this proxy serves',
    );
  }
  if (f.leaderElect) throw new UsageError('--leader-elect needs the Cluster watch (--kubeconfig), which is not available yet');

  const logger = createLogger({ name: 'proxy', verbosity, pretty: f.logFormat === 'text' });
  const ca = await loadCaFromFiles({ certFile: f.caCert, keyFile: f.caKey });
  const clusters = await openClusterFile(f.clusters, { logger });
  const inspection = f.inspect ? connectInspector(f.inspect) : undefined;
  logger.info({ host: f.host, port, clusters: f.clusters, clusterCount: clusters.snapshot().size }, 'Starting proxy');
  let proxy;
  try {
    proxy = await startProxy({
      host: f.host,
      port,
      ca,
      clusters,
      logger,
      ...(f.publishServiceAddress ? { publishServiceAddress: f.publishServiceAddress } : {}),
      ...(f.hostKey ? { hostKeyFile: f.hostKey } : {}),
      ...(inspection ? { inspect: inspection.inspect } : {}),
    });
  } catch (error) {
    await clusters.close();
    inspection?.stop();
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Stopping');
    await proxy.stop();
    await clusters.close();
    inspection?.stop();
    logger.flush();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) =>
  exitWithError('proxy', error, (e) => e instanceof UsageError || e instanceof PkiError || e instanceof ClusterFileError),
);
