/**
 * The proxy's SSH host key. Like the Go proxy, a fresh one per start unless a file is
 * given; ed25519 because it is fast to make and to sign with, and Go agents accept it.
 */
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';

// ssh2 is CommonJS: take its helpers from the default export.
const { utils } = ssh2;

/** The key as ssh2's server wants it (PEM/OpenSSH text), checked once here. */
export async function loadOrCreateHostKey(path?: string): Promise<Buffer> {
  const pem = path ? await readFile(path) : Buffer.from(utils.generateKeyPairSync('ed25519').private);
  const parsed = utils.parseKey(pem);
  if (parsed instanceof Error) throw new Error(`host key ${path ?? '(generated)'}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) throw new Error(`host key ${path}: not a private key`);
  return pem;
}
