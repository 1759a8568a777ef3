/**
 * The host key parsed once per process (per worker thread) and shared by every session's
 * ssh2 server, so neither the PEM parse nor (with our ssh2 patch) the signing key setup
 * is repeated per agent handshake.
 */
import ssh2, { type ParsedKey } from 'ssh2';

const { utils } = ssh2;
const parsed = new Map<string, ParsedKey>();

export function parsedHostKey(pem: Buffer): ParsedKey {
  const text = pem.toString('latin1');
  const cached = parsed.get(text);
  if (cached) return cached;
  const result = utils.parseKey(pem);
  const key = Array.isArray(result) ? result[0] : result;
  if (!key || key instanceof Error) throw new Error(`host key: ${key instanceof Error ? key.message : 'no key'}`);
  parsed.set(text, key);
  return key;
}
