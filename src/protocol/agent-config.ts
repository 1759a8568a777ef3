/**
 * The `config` global request payload: JSON of the Go agent's Config struct, whose
 * []byte fields (CertData, KeyData, CAData, BearerToken) travel as base64 strings and
 * are omitted when empty.
 */
import { MAX_CONFIG_BYTES } from './constants.js';

export interface AgentConfig {
  readonly version: string;
  readonly name: string;
  readonly token: string;
  /** `host[:port]` of the member kube-apiserver as the agent reaches it. */
  readonly kubernetesSvcHost: string;
  /** `host[:port]` of the member ks-apiserver. */
  readonly kubeSphereSvcHost: string;
  readonly certData?: Buffer;
  readonly keyData?: Buffer;
  readonly caData?: Buffer;
  readonly bearerToken?: Buffer;
  /**
   * What this agent can do beyond the Go tower's protocol, offered only to a proxy that
   * advertised it (`Capabilities`, a field the Go proxy's JSON decoding ignores).
   */
  readonly capabilities?: readonly string[];
}

type ByteField = 'CertData' | 'KeyData' | 'CAData' | 'BearerToken';
const BYTE_FIELDS: ReadonlyArray<[ByteField, 'certData' | 'keyData' | 'caData' | 'bearerToken']> = [
  ['CertData', 'certData'],
  ['KeyData', 'keyData'],
  ['CAData', 'caData'],
  ['BearerToken', 'bearerToken'],
];
const STRING_FIELDS = ['Version', 'Name', 'Token', 'KubernetesSvcHost', 'KubeSphereSvcHost'] as const;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Encode exactly as Go's `json.Marshal(Config)` does (field order included). */
export function encodeAgentConfig(config: AgentConfig): Buffer {
  const json: Record<string, string> = {
    Version: config.version,
    Name: config.name,
    Token: config.token,
    KubernetesSvcHost: config.kubernetesSvcHost,
    KubeSphereSvcHost: config.kubeSphereSvcHost,
  };
  for (const [wire, field] of BYTE_FIELDS) {
    const value = config[field];
    if (value && value.length > 0) json[wire] = value.toString('base64');
  }
  const capabilities = config.capabilities?.length ? { Capabilities: config.capabilities } : {};
  return Buffer.from(JSON.stringify({ ...json, ...capabilities }));
}

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

/**
 * Decode and check a payload. Throws AgentConfigError with a message fit to send back to
 * the agent (it never quotes field values, so no secret is echoed).
 */
export function decodeAgentConfig(payload: Buffer | null | undefined): AgentConfig {
  if (!payload || payload.length === 0) throw new AgentConfigError('empty config');
  if (payload.length > MAX_CONFIG_BYTES) {
    throw new AgentConfigError(`config is ${payload.length} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new AgentConfigError('invalid json config');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AgentConfigError('invalid json config: not an object');
  }
  const obj = parsed as Record<string, unknown>;
  const strings: Record<string, string> = {};
  for (const key of STRING_FIELDS) {
    const value = obj[key] ?? '';
    if (typeof value !== 'string') throw new AgentConfigError(`config field ${key} must be a string`);
    strings[key] = value;
  }
  const bytes: Partial<Record<(typeof BYTE_FIELDS)[number][1], Buffer>> = {};
  for (const [wire, field] of BYTE_FIELDS) {
    const value = obj[wire];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64_RE.test(value)) {
      throw new AgentConfigError(`config field ${wire} must be base64`);
    }
    bytes[field] = Buffer.from(value, 'base64');
  }
  if (!strings.Name) throw new AgentConfigError('config has no Name');
  const capabilities = obj['Capabilities'];
  if (capabilities !== undefined && !(Array.isArray(capabilities) && capabilities.every((c) => typeof c === 'string'))) {
    throw new AgentConfigError('config field Capabilities must be a list of strings');
  }
  return {
    version: strings.Version!,
    name: strings.Name,
    token: strings.Token!,
    kubernetesSvcHost: strings.KubernetesSvcHost!,
    kubeSphereSvcHost: strings.KubeSphereSvcHost!,
    ...bytes,
    ...(capabilities?.length ? { capabilities: capabilities as string[] } : {}),
  };
}

/** What may be logged about a config: no token, key, certificate or bearer. */
export function describeAgentConfig(config: AgentConfig): Record<string, unknown> {
  return {
    name: config.name,
    version: config.version,
    kubernetesSvcHost: config.kubernetesSvcHost,
    kubeSphereSvcHost: config.kubeSphereSvcHost,
    auth: config.bearerToken ? 'bearer-token' : config.certData ? 'client-certificate' : 'none',
    hasCA: Boolean(config.caData),
    capabilities: config.capabilities ?? [],
  };
}
