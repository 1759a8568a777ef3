/**
 * The proxy's SSH host key. Like the Go proxy, a fresh one per start unless a file is
 * given; ed25519 because it is fast to make and to sign with, and Go agents accept it.
 */
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';

// ssh2 is CommonJS: take its helpers from the default export.
const { utils } = ssh2;

/**
 * ssh2 1.17's generateKeyPairSync('ed25519') now and then (about 1 in 150 here) writes a
 * key its own parser rejects as malformed; a new key is the cure. Bounded.
 */
const GENERATE_ATTEMPTS = 8;

/** The key as PEM/OpenSSH text, checked to parse. */
export async function loadOrCreateHostKey(path?: string): Promise<Buffer> {
  if (path) {
    const pem = await readFile(path);
    check(pem, `host key ${path}`);
    return pem;
  }
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < GENERATE_ATTEMPTS; attempt += 1) {
    const pem = Buffer.from(utils.generateKeyPairSync('ed25519').private);
    try {
      check(pem, 'generated host key');
      return pem;
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError ?? new Error('could not generate a host key');
}

function check(pem: Buffer, what: string): void {
  const parsed = utils.parseKey(pem);
  if (parsed instanceof Error) throw new Error(`${what}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) throw new Error(`${what}: not a private key`);
}
