/** `agent`: the member-cluster side of the tunnel. Flags as the Go tower's agent. */
import meow from 'meow';
import { DEFAULT_MAX_CHANNELS, DEFAULT_MAX_DIALS } from '../actors/agent/agent-channels.js';
import { CredentialError, DEFAULT_SERVICE_ACCOUNT_DIR } from '../actors/agent/member-credentials.js';
import { AGENT_DEFAULTS } from '../actors/agent/agent-options.js';
import { startAgent } from '../actors/agent/start-agent.js';
import { createLogger } from '../log.js';
import { DEFAULT_BACKOFF } from '../machines/backoff.js';
import { DEFAULT_KUBESPHERE_PORT } from '../protocol/constants.js';
import { normalizeHostPort } from '../protocol/host-port.js';
import { sshCryptoBindingMissing } from '../protocol/ssh-crypto-binding.js';
import { durationFlag } from './duration.js';
import { proxyWebSocketUrl } from './proxy-url.js';
import { startInspection } from './inspection.js';
import { nudgeMemoryReducer } from './memory-reducer-nudge.js';
import { raiseStreamHighWaterMark } from './stream-high-water-mark.js';
import { parseListenAddress } from './listen-address.js';
import { exitWithError, UsageError } from './usage-error.js';
import { oneLineUnknownFlags } from './unknown-flags.js';

const cli = meow(
  `
  Usage
    $ tower-agent --name NAME --token TOKEN [--proxy-server URL] [--kubeconfig FILE] [flags]

  Dials the proxy, proves the cluster's token and serves the proxy's streams to this
  cluster's kube-apiserver and ks-apiserver. Without --kubeconfig it runs in-cluster
  (service-account token and CA, KUBERNETES_SERVICE_HOST/PORT).

  Flags
    --name NAME                  Cluster name, as in the host's Cluster object (required)
    --token TOKEN                The Cluster's spec.connection.token (required; never logged)
    --proxy-server URL           Proxy address (default http://127.0.0.1:8080); http(s) or
                                 ws(s); a URL without a port gets :80 (:443 for https/wss)
    --kubeconfig FILE            Use this kubeconfig instead of the in-cluster config
    --kubernetes-service H[:P]   Address of this cluster's kube-apiserver as the agent dials it
                                 (default: from the kubeconfig or KUBERNETES_SERVICE_HOST/PORT)
    --kubesphere-service H[:P]   Address of ks-apiserver (default
                                 ks-apiserver.kubesphere-system.svc:80)
    --keepalive DURATION         Ping the proxy this often; 0 disables (default 10s)
    --keepalive-count N          Give the connection up after N pings in a row went
                                 unanswered for a keepalive interval each (default 3)
    --max-retry N                Give up after N failed attempts in a row; 0 = never (default 0)
    --max-retry-interval DURATION
                                 Longest wait between attempts (default 2m; under 1s means 5m)
    --max-channels N             Channels the proxy may have open at once; more are refused
                                 (resource shortage) (default 1000)
    --max-dials N                Dials to this cluster's services in flight at once; more
                                 wait their turn (default 128)
    --no-member-tls              Send the member's credentials to the proxy as the Go agent
                                 does, even when the proxy offers to leave them here (by
                                 default the agent does the TLS to its kube-apiserver)
    --service-account-dir DIR    In-cluster credential files (default
                                 ${DEFAULT_SERVICE_ACCOUNT_DIR})
    --metrics-port N             Serve Prometheus metrics at /metrics, and the /livez and
                                 /readyz probes, on this port (default: off)
    --metrics-host ADDR          Address for --metrics-port (default 0.0.0.0)
    --inspect URL                Send xstate inspection events to this WebSocket inspector
    --debug-address HOST:PORT    Serve the built-in inspector page here (default: off; it
                                 shows live state, so keep it on a loopback or private address)
    --log-format json|text       Log format (default json)
    --v N                        Log verbosity: 0-3 info, 4-5 debug, 6+ trace (default 0)
    --help                       Show this help

  Signals: SIGHUP cuts a retry wait short; SIGINT/SIGTERM stop. Exit code 1 when
  --max-retry attempts failed, 2 for a bad flag or file.
`,
  oneLineUnknownFlags('agent', {
    importMeta: import.meta,
    description: 'tower-agent: the member-cluster side of the Tower tunnel.',
    allowUnknownFlags: false,
    flags: {
      name: { type: 'string' },
      token: { type: 'string' },
      proxyServer: { type: 'string', default: 'http://127.0.0.1:8080' },
      kubeconfig: { type: 'string' },
      kubernetesService: { type: 'string' },
      kubesphereService: { type: 'string', default: 'ks-apiserver.kubesphere-system.svc' },
      keepalive: { type: 'string', default: '10s' },
      keepaliveCount: { type: 'string', default: '3' },
      maxRetry: { type: 'string', default: '0' },
      maxRetryInterval: { type: 'string', default: '2m' },
      maxChannels: { type: 'string', default: String(DEFAULT_MAX_CHANNELS) },
      maxDials: { type: 'string', default: String(DEFAULT_MAX_DIALS) },
      memberTls: { type: 'boolean', default: true },
      serviceAccountDir: { type: 'string', default: DEFAULT_SERVICE_ACCOUNT_DIR },
      inspect: { type: 'string' },
      debugAddress: { type: 'string' },
      metricsPort: { type: 'string', default: '0' },
      metricsHost: { type: 'string', default: '0.0.0.0' },
      logFormat: { type: 'string', default: 'json' },
      v: { type: 'string', default: '0' },
    },
  }),
);
// meow names the process after the package's first bin; name it for what it is.
process.title = 'tower-agent';

const duration = (flag: string, value: string): number => durationFlag(flag, value);

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1_000_000) throw new UsageError(`--${flag} ${value}: must be an integer in 1-1000000`);
  return n;
}

async function main(): Promise<void> {
  const f = cli.flags;
  if (cli.input.length > 0) throw new UsageError(`unexpected argument ${cli.input[0]}; see --help`);
  if (!f.name) throw new UsageError("--name is required: the name of this cluster's Cluster object on the host");
  if (!f.token) throw new UsageError("--token is required: the Cluster's spec.connection.token");
  const verbosity = Number(f.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) throw new UsageError(`--v ${f.v}: must be a non-negative integer`);
  if (f.logFormat !== 'json' && f.logFormat !== 'text') throw new UsageError(`--log-format ${f.logFormat}: must be json or text`);
  const maxRetry = Number(f.maxRetry);
  if (!Number.isInteger(maxRetry) || maxRetry < 0) throw new UsageError(`--max-retry ${f.maxRetry}: must be a non-negative integer`);
  const maxChannels = positiveInteger('max-channels', f.maxChannels);
  const maxDials = positiveInteger('max-dials', f.maxDials);
  const keepaliveMs = duration('keepalive', f.keepalive);
  const keepaliveCountMax = Number(f.keepaliveCount);
  if (!Number.isInteger(keepaliveCountMax) || keepaliveCountMax < 1)
    throw new UsageError(`--keepalive-count ${f.keepaliveCount}: must be a positive integer`);
  let maxRetryMs = duration('max-retry-interval', f.maxRetryInterval);
  if (maxRetryMs < 1000) maxRetryMs = 5 * 60_000; // Go tower's rule
  const kubesphereService = normalizeHostPort(f.kubesphereService, DEFAULT_KUBESPHERE_PORT);
  if (!kubesphereService) throw new UsageError(`--kubesphere-service ${f.kubesphereService}: must be host[:port]`);
  const proxyUrl = proxyWebSocketUrl(f.proxyServer);
  const metricsPort = Number(f.metricsPort);
  if (!/^\d{1,5}$/.test(f.metricsPort) || metricsPort > 65535)
    throw new UsageError(`--metrics-port ${f.metricsPort}: port out of range 0-65535 (0 = off)`);
  const debugAddress = f.debugAddress ? parseListenAddress('debug-address', f.debugAddress) : undefined;
  if (debugAddress && debugAddress.port !== 0 && debugAddress.port === metricsPort)
    throw new UsageError(`--debug-address ${f.debugAddress}: must not be the --metrics-port`);

  const logger = createLogger({ name: 'agent', verbosity, pretty: f.logFormat === 'text' });
  nudgeMemoryReducer();
  raiseStreamHighWaterMark();
  // Imported only when asked for: the inspector and prom-client cost memory in every member cluster.
  const inspection = await startInspection({ inspectUrl: f.inspect, debugAddress, processName: `tower-agent ${f.name}`, logger });
  // Probes and metrics answer from the start (/livez while running, /readyz once connected).
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  if (metricsPort > 0) {
    const connected = () => agent?.actor.getSnapshot().matches({ session: 'connected' }) ?? false;
    const { agentRegistry, serveMetrics } = await import('../metrics/agent-metrics.js');
    const registry = agentRegistry({
      connected,
      failures: () => agent?.actor.getSnapshot().context.failures ?? 0,
      channelsOpen: () => agent?.openChannels() ?? 0,
    });
    const server = await serveMetrics(registry, f.metricsHost, metricsPort, connected).catch((error: Error) => {
      throw new UsageError(`--metrics-port ${metricsPort}: ${error.message}`);
    });
    server.unref();
  }
  const running = await startAgent({
    name: f.name,
    token: f.token,
    proxyUrl,
    credentials: f.kubeconfig
      ? { kind: 'kubeconfig', path: f.kubeconfig }
      : {
          kind: 'in-cluster',
          serviceAccountDir: f.serviceAccountDir,
          serviceHost: process.env['KUBERNETES_SERVICE_HOST'],
          servicePort: process.env['KUBERNETES_SERVICE_PORT'],
        },
    ...(f.kubernetesService ? { kubernetesService: f.kubernetesService } : {}),
    kubesphereService,
    keepaliveMs,
    keepaliveCountMax,
    maxRetry,
    backoff: { ...DEFAULT_BACKOFF, maxMs: maxRetryMs },
    handshakeTimeoutMs: AGENT_DEFAULTS.handshakeTimeoutMs,
    dialTimeoutMs: AGENT_DEFAULTS.dialTimeoutMs,
    maxChannels,
    maxDials,
    memberTls: f.memberTls,
    logger,
    ...(inspection.inspect ? { inspect: inspection.inspect } : {}),
  });
  agent = running;
  // Once started: a usage mistake stays the one line it prints.
  const sshCrypto = sshCryptoBindingMissing();
  if (sshCrypto) logger.warn(sshCrypto);
  process.on('SIGHUP', () => running.wake());
  const stop = () => void running.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const result = await running.done;
  await inspection.stop();
  if (result.state === 'failed') logger.error({ reason: result.lastError, maxRetry }, 'Giving up: every attempt failed');
  else logger.info('Stopped');
  logger.flush();
  await running.stop();
  process.exit(result.state === 'failed' ? 1 : 0);
}

main().catch((error: unknown) => exitWithError('agent', error, (e) => e instanceof UsageError || e instanceof CredentialError));
