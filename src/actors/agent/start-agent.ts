/**
 * Start an agent: check its credentials once (so a bad kubeconfig is a clear error at
 * start, not a retry loop), then run the agent-connection machine until stopped.
 */
import { createActor, type SnapshotFrom } from 'xstate';
import { agentConnectionMachine } from '../../machines/agent-connection.js';
import { DEFAULT_KUBERNETES_PORT } from '../../protocol/constants.js';
import { normalizeHostPort } from '../../protocol/host-port.js';
import { AgentChannels } from './agent-channels.js';
import type { AgentOptions } from './agent-options.js';
import { agentSessionLogic } from './agent-session.js';
import { CredentialError, loadMemberCredentials } from './member-credentials.js';
import { backoffDelay } from '../../machines/backoff.js';

export interface AgentHandle {
  readonly actor: ReturnType<typeof createActor<typeof agentConnectionMachine>>;
  /** Cut a backoff wait short (SIGHUP). */
  wake(): void;
  /** Stop and wait until every socket is closed. */
  stop(): Promise<void>;
  /** Settles when the agent ends: `failed` after `--max-retry` attempts, or `stopped`. */
  readonly done: Promise<{ readonly state: 'failed' | 'stopped'; readonly lastError?: string }>;
  /** Channels currently piping. */
  readonly openChannels: () => number;
}

export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const credentials = await loadMemberCredentials(options.credentials);
  const kubernetesTarget = options.kubernetesService
    ? normalizeHostPort(options.kubernetesService, DEFAULT_KUBERNETES_PORT)
    : credentials.kubernetesSvcHost;
  if (!kubernetesTarget) throw new CredentialError(`--kubernetes-service ${options.kubernetesService} is not host[:port]`);
  const log = options.logger;
  const channels = new AgentChannels(options.dialTimeoutMs);
  const machine = agentConnectionMachine.provide({
    actors: {
      session: agentSessionLogic({ options, channels, kubernetesTarget }),
      channel: channels.machine(),
    },
    delays: {
      retryDelay: ({ context }) => {
        const delay = backoffDelay(context.failures, context.backoff);
        const attempt = options.maxRetry > 0 ? `${context.failures}/${options.maxRetry}` : `${context.failures}`;
        log.warn({ attempt, retryInMs: delay, reason: context.lastError }, 'Connection error; retrying');
        return delay;
      },
    },
  });
  const actor = createActor(machine, {
    id: `agent:${options.name}`,
    input: {
      maxRetry: options.maxRetry,
      backoff: options.backoff,
      keepaliveMs: options.keepaliveMs,
      pingTimeoutMs: options.pingTimeoutMs,
      allowedTargets: [kubernetesTarget, options.kubesphereService],
    },
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  let previous = '';
  actor.subscribe((snapshot: SnapshotFrom<typeof machine>) => {
    const state = JSON.stringify(snapshot.value);
    if (state !== previous) log.debug({ state }, 'Agent state');
    previous = state;
  });
  const done = new Promise<{ state: 'failed' | 'stopped'; lastError?: string }>((resolve) => {
    actor.subscribe({
      next: (snapshot) => {
        if (snapshot.status !== 'done') return;
        const state = snapshot.value === 'failed' ? 'failed' : 'stopped';
        resolve({ state, ...(snapshot.context.lastError ? { lastError: snapshot.context.lastError } : {}) });
      },
      error: (error) => resolve({ state: 'failed', lastError: String(error) }),
    });
  });
  actor.start();
  log.info(
    { name: options.name, proxy: options.proxyUrl, kubernetes: kubernetesTarget, kubesphere: options.kubesphereService },
    'Agent started',
  );
  return {
    actor,
    wake: () => actor.send({ type: 'wake' }),
    stop: async () => {
      actor.send({ type: 'stop' });
      await done;
      actor.stop();
      channels.clear();
    },
    done,
    openChannels: () => channels.openCount,
  };
}
