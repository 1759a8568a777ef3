/**
 * Start an agent: check its credentials once (so a bad kubeconfig is a clear error at
 * start, not a retry loop), then run the agent-connection machine until stopped.
 *
 * In-cluster, the kubelet rotates the service-account token while the proxy keeps the one
 * it received at connect time; the token-rotation machine notices a new token, connects
 * again with it and only then retires the old connection (make-before-break), so the
 * cluster never goes dark.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createActor, waitFor, type SnapshotFrom } from 'xstate';
import { agentConnectionMachine, retryDelay } from '../../machines/agent-connection.js';
import { tokenRotationMachine } from '../../machines/token-rotation.js';
import { DEFAULT_KUBERNETES_PORT } from '../../protocol/constants.js';
import { normalizeHostPort } from '../../protocol/host-port.js';
import { AgentChannels, DEFAULT_MAX_CHANNELS, DEFAULT_MAX_DIALS } from './agent-channels.js';
import { AGENT_DEFAULTS, type AgentOptions } from './agent-options.js';
import { runConnectionAttempt } from './connection-attempt.js';
import { CredentialError, loadMemberCredentials } from './member-credentials.js';

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

interface Connection {
  readonly actor: ConnectionActor;
  readonly channels: AgentChannels;
  readonly ended: Promise<AgentResult>;
  stop(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const credentials = await loadMemberCredentials(options.credentials);
  const kubernetesTarget = options.kubernetesService
    ? normalizeHostPort(options.kubernetesService, DEFAULT_KUBERNETES_PORT)
    : credentials.kubernetesSvcHost;
  if (!kubernetesTarget) throw new CredentialError(`--kubernetes-service ${options.kubernetesService} is not host[:port]`);
  const log = options.logger;
  let generation = 0;

  const connect = (): Connection => {
    const channels = new AgentChannels({
      dialTimeoutMs: options.dialTimeoutMs,
      maxChannels: options.maxChannels ?? DEFAULT_MAX_CHANNELS,
      maxDials: options.maxDials ?? DEFAULT_MAX_DIALS,
      logger: log,
    });
    const machine = agentConnectionMachine.provide({
      delays: {
        retryDelay: ({ context }) => {
          const delay = retryDelay(context);
          // The machine evaluates this delay on entering `backoff` even when it is about to
          // give up (--max-retry reached); do not announce a retry that will not happen.
          const givingUp = options.maxRetry > 0 && context.failures >= options.maxRetry;
          const limit = options.maxRetry > 0 ? { maxRetry: options.maxRetry } : {};
          if (!givingUp)
            log.warn({ attempt: context.failures, ...limit, retryInMs: delay, reason: context.lastError }, 'Connection error; retrying');
          return delay;
        },
      },
    });
    generation += 1;
    const actor = createActor(machine, {
      id: generation === 1 ? `agent:${options.name}` : `agent:${options.name}#${generation}`,
      input: {
        maxRetry: options.maxRetry,
        backoff: options.backoff,
        keepaliveMs: options.keepaliveMs,
        keepaliveCountMax: options.keepaliveCountMax ?? AGENT_DEFAULTS.keepaliveCountMax,
        dialTimeoutMs: options.dialTimeoutMs,
        allowedTargets: [kubernetesTarget, options.kubesphereService],
        io: { attempt: (io) => runConnectionAttempt({ options, channels, kubernetesTarget }, io) },
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
  let next: Connection | undefined;
  let previous: Connection | undefined;
  let settle: (result: AgentResult) => void = () => {};
  const done = new Promise<AgentResult>((resolve) => (settle = resolve));
  const follow = (connection: Connection) =>
    void connection.ended.then((result) => {
      if (connection === current) settle(result);
    });
  follow(current);

  const rotation =
    options.credentials.kind === 'in-cluster' ? startTokenRotation(`${options.credentials.serviceAccountDir}/token`) : undefined;

  function startTokenRotation(tokenFile: string) {
    let lastDigest: string | undefined;
    const digest = async () =>
      createHash('sha256')
        .update(await readFile(tokenFile))
        .digest('hex');
    void digest().then(
      (d) => (lastDigest ??= d),
      () => undefined,
    );
    const actor = createActor(tokenRotationMachine, {
      id: `tokenRotation:${options.name}`,
      input: {
        checkIntervalMs: options.tokenCheckIntervalMs ?? AGENT_DEFAULTS.tokenCheckIntervalMs,
        connectTimeoutMs: AGENT_DEFAULTS.rotationConnectTimeoutMs,
        graceMs: options.rotationGraceMs ?? AGENT_DEFAULTS.rotationGraceMs,
        io: {
          tokenChanged: async () => {
            const now = await digest();
            const changed = lastDigest !== undefined && now !== lastDigest;
            lastDigest = now;
            return changed;
          },
          startNext: () => {
            log.info('Service-account token rotated; connecting again with the new one');
            const connection = connect();
            next = connection;
            follow(connection);
            void waitFor(connection.actor, (s) => s.matches({ session: 'connected' }), {
              timeout: AGENT_DEFAULTS.rotationConnectTimeoutMs,
            }).then(
              () => next === connection && actor.send({ type: 'next.connected' }),
              () => undefined, // the machine's own timeout abandons it
            );
          },
          promoteNext: () => {
            previous = current;
            current = next!;
            next = undefined;
          },
          retirePrevious: () => {
            void previous?.stop();
            previous = undefined;
          },
          abandonNext: () => {
            log.warn('The connection with the rotated token did not come up; keeping the current one');
            void next?.stop();
            next = undefined;
          },
        },
      },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    actor.start();
    return actor;
  }

  log.info(
    { cluster: options.name, proxy: options.proxyUrl, kubernetes: kubernetesTarget, kubesphere: options.kubesphereService },
    'Agent started',
  );
  const all = () => [current, next, previous].filter((c): c is Connection => c !== undefined);
  return {
    get actor() {
      return current.actor;
    },
    wake: () => current.actor.send({ type: 'wake' }),
    stop: async () => {
      rotation?.send({ type: 'stop' });
      rotation?.stop();
      await Promise.all(all().map((c) => c.stop()));
      settle({ state: 'stopped' });
    },
    done,
    openChannels: () => all().reduce((n, c) => n + c.channels.openCount, 0),
  };
}
