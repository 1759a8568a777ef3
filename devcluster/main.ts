/**
 * `devcluster`: run an in-memory Kubernetes-API-compatible server on 127.0.0.1
 * until SIGINT/SIGTERM. Prints the URL as one line on stdout; logs go to stderr.
 * Mistakes in flags get one line on stderr and exit code 2, as the proxy and agent do.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import meow from 'meow';
import type { pino } from 'pino';
import { exitWithError, UsageError } from '../src/bin/usage-error.js';
import { oneLineUnknownFlags } from '../src/bin/unknown-flags.js';
import { createLogger } from '../src/log.js';
import { startDevCluster } from './index.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const cli = meow(
  `
  Usage
    $ tower-devcluster [--port N] [--name NAME] [--write-kubeconfig FILE] [flags]

  A development and test stand-in for a Kubernetes API server: in memory, on 127.0.0.1
  only, with its own CA. Prints its URL once it serves; stops on SIGINT/SIGTERM.

  Flags
    --port, -p N               TCP port on 127.0.0.1, 0-65535 (default 0: a free port)
    --name NAME                Cluster name: kubeconfig cluster/context and node names
                               (default devcluster)
    --write-kubeconfig FILE    Write a kubeconfig with an admin client certificate
    --token-kubeconfig FILE    Write a kubeconfig that uses a bearer token
    --kubernetes-version V     Version reported by /version (default 1.32.2)
    --history-size N           Watch history kept for resuming (default 10000)
    --log-level LEVEL          ${LEVELS.join(', ')} (default info)
    --log-format json|text     Log format (default json)
    --help                     Show this help

  Example
    $ tower-devcluster --port 6443 --write-kubeconfig /tmp/dev.kubeconfig
    https://127.0.0.1:6443
    $ kubectl --kubeconfig /tmp/dev.kubeconfig get nodes
`,
  oneLineUnknownFlags('devcluster', {
    importMeta: import.meta,
    description: 'tower-devcluster: an in-memory Kubernetes API for development and tests.',
    allowUnknownFlags: false,
    flags: {
      port: { type: 'string', shortFlag: 'p', default: '0' },
      name: { type: 'string', default: 'devcluster' },
      writeKubeconfig: { type: 'string' },
      tokenKubeconfig: { type: 'string' },
      kubernetesVersion: { type: 'string', default: '1.32.2' },
      historySize: { type: 'string', default: '10000' },
      logLevel: { type: 'string', default: 'info' },
      logFormat: { type: 'string', default: 'json' },
    },
  }),
);
// meow names the process after the package's first bin; name it for what it is.
process.title = 'tower-devcluster';

async function main(): Promise<void> {
  const f = cli.flags;
  if (cli.input.length > 0) throw new UsageError(`unexpected argument ${cli.input[0]}; see --help`);
  const port = Number(f.port);
  if (!/^\d{1,5}$/.test(f.port) || port > 65535) throw new UsageError(`--port ${f.port}: must be a port number in 0-65535 (0 picks a free one)`);
  const historySize = Number(f.historySize);
  if (!/^\d+$/.test(f.historySize) || historySize < 1) throw new UsageError(`--history-size ${f.historySize}: must be a positive integer`);
  if (!/^v?\d+\.\d+(\.\d+)?$/.test(f.kubernetesVersion)) throw new UsageError(`--kubernetes-version ${f.kubernetesVersion}: must look like 1.32.2`);
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(f.name)) throw new UsageError(`--name ${f.name}: must be a DNS label (lower-case letters, digits and '-')`);
  if (!(LEVELS as readonly string[]).includes(f.logLevel)) throw new UsageError(`--log-level ${f.logLevel}: must be one of ${LEVELS.join(', ')}`);
  if (f.logFormat !== 'json' && f.logFormat !== 'text') throw new UsageError(`--log-format ${f.logFormat}: must be json or text`);

  for (const [flag, path] of [['write-kubeconfig', f.writeKubeconfig], ['token-kubeconfig', f.tokenKubeconfig]] as const) {
    if (path) await access(dirname(resolve(path)), constants.W_OK).catch(() => {
      throw new UsageError(`--${flag} ${path}: cannot write there (no such directory, or not writable)`);
    });
  }

  const logger = createLogger({ name: 'devcluster', verbosity: 0, level: f.logLevel as pino.LevelWithSilent, pretty: f.logFormat === 'text' });
  // Signals count from the start: one that comes while starting stops us once started.
  let stopSignal: string | undefined;
  let stopNow: ((signal: string) => void) | undefined;
  const onSignal = (signal: string) => {
    stopSignal ??= signal;
    stopNow?.(signal);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const cluster = await startDevCluster({ name: f.name, port, historySize, kubernetesVersion: f.kubernetesVersion, logger }).catch((error: Error) => {
    throw /EADDRINUSE|EACCES/.test(error.message) ? new UsageError(`--port ${port}: ${error.message}`) : error;
  });
  const write = async (path: string | undefined, kind: 'cert' | 'token', flag: string) => {
    if (!path) return;
    await cluster.writeKubeconfig(path, kind).catch(async (error: Error) => {
      await cluster.stop();
      throw new UsageError(`--${flag} ${path}: ${error.message}`);
    });
  };
  await write(f.writeKubeconfig, 'cert', 'write-kubeconfig');
  await write(f.tokenKubeconfig, 'token', 'token-kubeconfig');
  process.stdout.write(`${cluster.url}\n`);
  let stopping = false;
  stopNow = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    cluster.stop().then(
      () => (logger.flush(), process.exit(0)),
      () => process.exit(1),
    );
  };
  if (stopSignal) stopNow(stopSignal);
}

main().catch((error: unknown) => exitWithError('devcluster', error, (e) => e instanceof UsageError));
