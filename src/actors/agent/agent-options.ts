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
  readonly keepaliveMs: number;
  /** How long a ping may go unanswered before the session is given up. */
  readonly pingTimeoutMs: number;
  readonly maxRetry: number;
  readonly backoff: BackoffOptions;
  /** WebSocket + SSH handshake limit (Go agent: 45 s). */
  readonly handshakeTimeoutMs: number;
  /** Dial limit for a target inside the member cluster. */
  readonly dialTimeoutMs: number;
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
