/**
 * Start an agent: check its credentials once (so a bad kubeconfig is a clear error at
 * start, not a retry loop), then run the agent-connection machine until stopped.
 *
 * In-cluster, the service-account token is rotated by the kubelet and the proxy keeps
 * using the one it received at connect time. When the token file changes, the agent
 * connects again with the new token and only then retires the old connection
 * (make-before-break), so the cluster never goes dark.
 */
import { createActor, waitFor, type SnapshotFrom } from 'xstate';
import { agentConnectionMachine } from '../../machines/agent-connection.js';
import { backoffDelay } from '../../machines/backoff.js';
import { DEFAULT_KUBERNETES_PORT } from '../../protocol/constants.js';
import { normalizeHostPort } from '../../protocol/host-port.js';
import { AgentChannels } from './agent-channels.js';
import type { AgentOptions } from './agent-options.js';
import { agentSessionLogic } from './agent-session.js';
import { CredentialError, loadMemberCredentials } from './member-credentials.js';
import { watchTokenFile } from './token-watch.js';

type ConnectionActor = ReturnType<typeof createActor<typeof agentConnectionMachine>>;
export type AgentResult = { readonly state: 'failed' | 'stopped'; readonly lastError?: string };

export interface AgentHandle {
  /** The current connection's actor (a new one after a token rotation). */
  readonly actor: ConnectionActor;
  /** Cut a backoff wait short (SIGHUP). */
  wake(): void;
  /** Stop and wait until every socket is closed. */
  stop(): Promise<void>;
  /** Settles when the agent ends: `failed` after `--max-retry` attempts, or `stopped`. */
  readonly done: Promise<AgentResult>;
  /** Channels currently piping. */
  readonly openChannels: () => number;
}

/** How long the old connection keeps serving after its replacement connected. */
const DEFAULT_ROTATION_GRACE_MS = 10_000;

export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const credentials = await loadMemberCredentials(options.credentials);
  const kubernetesTarget = options.kubernetesService
    ? normalizeHostPort(options.kubernetesService, DEFAULT_KUBERNETES_PORT)
    : credentials.kubernetesSvcHost;
  if (!kubernetesTarget) throw new CredentialError(`--kubernetes-service ${options.kubernetesService} is not host[:port]`);
  const log = options.logger;

  const connect = () => {
    const channels = new AgentChannels(options.dialTimeoutMs, (message) => log.warn(message));
    const machine = agentConnectionMachine.provide({
      actors: {
        session: agentSessionLogic({ options, channels, kubernetesTarget }),
        channel: channels.machine(),
      },
      delays: {
        retryDelay: ({ context }) => {
          const delay = backoffDelay(context.failures, context.backoff);
          // The machine evaluates this delay on entering `backoff` even when it is about to
          // give up (--max-retry reached); do not announce a retry that will not happen.
          const givingUp = options.maxRetry > 0 && context.failures >= options.maxRetry;
          const limit = options.maxRetry > 0 ? { maxRetry: options.maxRetry } : {};
          if (!givingUp) log.warn({ attempt: context.failures, ...limit, retryInMs: delay, reason: context.lastError }, 'Connection error; retrying');
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
      const key = JSON.stringify(snapshot.value);
      if (key !== previous) log.debug({ state: snapshot.value }, 'Agent state');
      previous = key;
    });
    const ended = new Promise<AgentResult>((resolve) => {
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
    const stop = async () => {
      actor.send({ type: 'stop' });
      await ended;
      actor.stop();
      channels.clear();
    };
    return { actor, channels, ended, stop };
  };

  let current = connect();
  let retiring: Array<ReturnType<typeof connect>> = [];
  let stopping = false;
  let settle: (result: AgentResult) => void = () => {};
  const done = new Promise<AgentResult>((resolve) => (settle = resolve));
  const follow = (connection: ReturnType<typeof connect>) =>
    void connection.ended.then((result) => {
      if (connection === current) settle(result);
    });
  follow(current);

  const rotation =
    options.credentials.kind === 'in-cluster'
      ? watchTokenFile(`${options.credentials.serviceAccountDir}/token`, options.tokenCheckIntervalMs ?? 60_000, () => {
          if (stopping) return;
          log.info('Service-account token rotated; connecting again with the new one');
          const next = connect();
          follow(next);
          waitFor(next.actor, (s) => s.matches({ session: 'connected' }), { timeout: 120_000 }).then(
            () => {
              const old = current;
              current = next;
              retiring.push(old);
              const timer = setTimeout(() => {
                retiring = retiring.filter((c) => c !== old);
                void old.stop();
              }, options.rotationGraceMs ?? DEFAULT_ROTATION_GRACE_MS);
              timer.unref();
            },
            () => {
              log.warn('The connection with the rotated token did not come up; keeping the current one');
              void next.stop();
            },
          );
        })
      : undefined;

  log.info(
    { cluster: options.name, proxy: options.proxyUrl, kubernetes: kubernetesTarget, kubesphere: options.kubesphereService },
    'Agent started',
  );
  return {
    get actor() {
      return current.actor;
    },
    wake: () => current.actor.send({ type: 'wake' }),
    stop: async () => {
      stopping = true;
      rotation?.close();
      await Promise.all([current, ...retiring].map((c) => c.stop()));
      settle({ state: 'stopped' });
    },
    done,
    openChannels: () => [current, ...retiring].reduce((n, c) => n + c.channels.openCount, 0),
  };
}
