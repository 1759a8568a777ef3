/**
 * `devcluster`: run an in-memory Kubernetes-API-compatible server on 127.0.0.1
 * until SIGINT/SIGTERM. Prints the URL as one line on stdout; logs go to stderr.
 */
import meow from 'meow';
import { pino } from 'pino';
import { startDevCluster } from './index.js';

const cli = meow(
  `
  Usage
    $ devcluster [options]

  Options
    --port, -p P               TCP port on 127.0.0.1 (default 0: a free port)
    --name NAME                cluster name: kubeconfig cluster/context and node names (default devcluster)
    --write-kubeconfig FILE    write a kubeconfig with an admin client certificate
    --token-kubeconfig FILE    write a kubeconfig that uses a bearer token
    --kubernetes-version V     version reported by /version (default 1.32.2)
    --history-size N           watch history kept for resuming (default 10000)
    --log-level LEVEL          pino level for stderr logs (default info)

  Example
    $ devcluster --port 6443 --write-kubeconfig /tmp/dev.kubeconfig
    https://127.0.0.1:6443
    $ kubectl --kubeconfig /tmp/dev.kubeconfig get nodes
`,
  {
    importMeta: import.meta,
    flags: {
      port: { type: 'number', shortFlag: 'p', default: 0 },
      name: { type: 'string', default: 'devcluster' },
      writeKubeconfig: { type: 'string' },
      tokenKubeconfig: { type: 'string' },
      kubernetesVersion: { type: 'string', default: '1.32.2' },
      historySize: { type: 'number', default: 10000 },
      logLevel: { type: 'string', default: 'info' },
    },
  },
);
// meow names the process after the package's first bin; name it for what it is.
process.title = 'tower-devcluster';

const logger = pino({ level: cli.flags.logLevel }, pino.destination(2));

async function main(): Promise<void> {
  const { port, historySize } = cli.flags;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${port}`);
  if (!Number.isInteger(historySize) || historySize < 1) throw new Error(`--history-size must be a positive integer`);
  const cluster = await startDevCluster({
    name: cli.flags.name,
    port,
    historySize,
    kubernetesVersion: cli.flags.kubernetesVersion,
    logger,
  });
  if (cli.flags.writeKubeconfig) await cluster.writeKubeconfig(cli.flags.writeKubeconfig, 'cert');
  if (cli.flags.tokenKubeconfig) await cluster.writeKubeconfig(cli.flags.tokenKubeconfig, 'token');
  process.stdout.write(`${cluster.url}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    cluster.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  logger.error({ err }, 'devcluster failed to start');
  process.exit(1);
});
