/**
 * The proxy's answer to an agent's `config` request, on whichever thread runs its SSH
 * connection: decode the payload, verify it against the served clusters, log a refusal.
 */
import type { Logger } from '../../log.js';
import { AgentConfigError, decodeAgentConfig, describeAgentConfig, type AgentConfig } from '../../protocol/agent-config.js';
import type { ConfigVerdict } from './config-check.js';

export type ConfigDecision =
  | { readonly ok: true; readonly config: AgentConfig; readonly verdict: Extract<ConfigVerdict, { ok: true }> }
  | { readonly ok: false; readonly reason: string };

export function decideConfig(
  payload: Buffer | undefined,
  verify: (config: AgentConfig) => ConfigVerdict,
  log: Logger,
): ConfigDecision {
  let config: AgentConfig;
  try {
    config = decodeAgentConfig(payload);
  } catch (error) {
    return { ok: false, reason: error instanceof AgentConfigError ? error.message : 'invalid config' };
  }
  const verdict = verify(config);
  if (!verdict.ok) {
    log.warn({ agent: describeAgentConfig(config), reason: verdict.reason }, 'Agent rejected');
    return { ok: false, reason: verdict.reason };
  }
  return { ok: true, config, verdict };
}
