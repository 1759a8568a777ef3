/** Everything an agent needs to run, after the CLI parsed and checked its flags. */
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../../log.js';
import type { BackoffOptions } from '../../machines/backoff.js';
import type { CredentialSource } from './member-credentials.js';

export interface AgentOptions {
  /** Cluster name (`--name`). */
  readonly name: string;
  /** `--token`; never logged. */
  readonly token: string;
  /** WebSocket URL of the proxy (`ws://host:port` or `wss://…`), already normalized. */
  readonly proxyUrl: string;
  readonly credentials: CredentialSource;
  /** `--kubernetes-service` when given: overrides the address from the credentials. */
  readonly kubernetesService?: string;
  /** `--kubesphere-service`, normalized `host:port`. */
  readonly kubesphereService: string;
  /** `--keepalive`: ping the proxy this often; 0 disables. */
  readonly keepaliveMs: number;
  /** `--keepalive-count`: pings in a row unanswered (each for a keepalive interval) before the connection is given up. */
  readonly keepaliveCountMax?: number;
  readonly maxRetry: number;
  readonly backoff: BackoffOptions;
  /** WebSocket + SSH handshake limit (Go agent: 45 s). */
  readonly handshakeTimeoutMs: number;
  /** Dial limit for a target inside the member cluster. */
  readonly dialTimeoutMs: number;
  /** Use member TLS when the proxy offers it (default true; false: always the Go tower's way). */
  readonly memberTls?: boolean;
  /** `--max-channels`: channels open or being opened per session (default 1000). */
  readonly maxChannels?: number;
  /** `--max-dials`: dials to the member's services in flight; more wait (default 128). */
  readonly maxDials?: number;
  /** In-cluster: how often to look for a rotated service-account token (default 60 s). */
  readonly tokenCheckIntervalMs?: number;
  /** How long the old connection keeps serving after its replacement connected (default 10 s). */
  readonly rotationGraceMs?: number;
  readonly logger: Logger;
  readonly inspect?: (event: InspectionEvent) => void;
}

/**
 * Every timeout and limit of the agent, with its default (the CLI flags override them;
 * docs/security.md lists them).
 */
export const AGENT_DEFAULTS = {
  /** `--keepalive`: a frozen proxy is given up after N pings in a row went unanswered (30–40 s by default: the first ping waits for an interval of silence). */
  keepaliveMs: 10_000,
  keepaliveCountMax: 3,
  /** WebSocket + SSH handshake (Go agent: 45 s). */
  handshakeTimeoutMs: 45_000,
  /** Dial of a target inside the member cluster. */
  dialTimeoutMs: 10_000,
  /** In-cluster: how often the service-account token file is looked at. */
  tokenCheckIntervalMs: 60_000,
  /** How long a connection with a rotated token may take to come up before it is abandoned. */
  rotationConnectTimeoutMs: 120_000,
  /** How long the replaced connection keeps serving after its successor connected. */
  rotationGraceMs: 10_000,
} as const;
