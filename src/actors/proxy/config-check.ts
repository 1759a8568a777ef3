/**
 * Decide whether an agent's config admits it: the payload must decode, the cluster must be
 * served and the token must match (compared in constant time, over digests so the length
 * does not leak). Reasons are safe to send back to the agent and to log: they never quote
 * a secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { ServedCluster } from '../../cluster-sources/cluster-source.js';
import type { RejectCode } from '../../machines/agent-session.js';
import { AgentConfigError, decodeAgentConfig, type AgentConfig } from '../../protocol/agent-config.js';
import { DEFAULT_KUBERNETES_PORT, DEFAULT_KUBESPHERE_PORT, MEMBER_TLS } from '../../protocol/constants.js';
import { normalizeHostPort } from '../../protocol/host-port.js';

export type ConfigVerdict =
  | {
      readonly ok: true;
      readonly config: AgentConfig;
      readonly cluster: ServedCluster;
      /** Normalized `host:port` of the member kube-apiserver and ks-apiserver. */
      readonly kubernetesTarget: string;
      readonly kubesphereTarget: string;
      /** The agent does the member's TLS and credentials: kube channels carry plain HTTP. */
      readonly memberTls: boolean;
    }
  | { readonly ok: false; readonly code: RejectCode; readonly reason: string; readonly config?: AgentConfig };

export type AcceptedConfig = Extract<ConfigVerdict, { ok: true }>;

/** Decode `payload` and check it against the served clusters. */
export function checkConfigPayload(payload: Buffer, lookup: (name: string) => ServedCluster | undefined): ConfigVerdict {
  let config: AgentConfig;
  try {
    config = decodeAgentConfig(payload);
  } catch (error) {
    return { ok: false, code: 'bad_config', reason: error instanceof AgentConfigError ? error.message : 'invalid config' };
  }
  return checkAgentConfig(config, lookup);
}

export function checkAgentConfig(config: AgentConfig, lookup: (name: string) => ServedCluster | undefined): ConfigVerdict {
  const refuse = (code: RejectCode, reason: string): ConfigVerdict => ({ ok: false, code, reason, config });
  const cluster = lookup(config.name);
  // Same wording for "unknown cluster" and "wrong token" would hide which names exist,
  // but operators need to tell them apart; names are not secrets, tokens are.
  if (!cluster) return refuse('unknown_cluster', `Unauthorized agent: cluster ${JSON.stringify(config.name)} is not served by this proxy`);
  if (!tokensEqual(config.token, cluster.token)) {
    return refuse('wrong_token', `Unauthorized agent: wrong token for cluster ${JSON.stringify(config.name)}`);
  }
  const kubernetesTarget = normalizeHostPort(config.kubernetesSvcHost, DEFAULT_KUBERNETES_PORT);
  if (!kubernetesTarget) return refuse('bad_config', 'KubernetesSvcHost is not host[:port]');
  const kubesphereTarget = normalizeHostPort(config.kubeSphereSvcHost, DEFAULT_KUBESPHERE_PORT);
  if (!kubesphereTarget) return refuse('bad_config', 'KubeSphereSvcHost is not host[:port]');
  const memberTls = config.capabilities?.includes(MEMBER_TLS) ?? false;
  if (memberTls) return { ok: true, config, cluster, kubernetesTarget, kubesphereTarget, memberTls };
  if (!config.bearerToken && !(config.certData && config.keyData)) {
    return refuse('bad_config', 'config carries no credentials (BearerToken or CertData+KeyData)');
  }
  try {
    // The upstream TLS context is built from these once per session: check they parse.
    createSecureContext({
      ...(config.caData ? { ca: config.caData } : {}),
      ...(config.certData && config.keyData ? { cert: config.certData, key: config.keyData } : {}),
    });
  } catch {
    return refuse('bad_config', 'CAData, CertData or KeyData is not a valid PEM certificate/key pair');
  }
  return { ok: true, config, cluster, kubernetesTarget, kubesphereTarget, memberTls: false };
}

export function tokensEqual(given: string, expected: string): boolean {
  if (!expected) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
