import { readFile } from 'node:fs/promises';
import { PkiError } from './errors.js';
import { checkCaPem, type CheckedCaPem } from './ca-pem.js';

/** Paths of the CA certificate and key PEM files (`--ca-cert`, `--ca-key`). */
export interface CaFiles {
  certFile: string;
  keyFile: string;
}

async function readText(path: string, label: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' :
      code === 'EACCES' || code === 'EPERM' ? 'permission denied' :
      code === 'EISDIR' ? 'is a directory, not a file' :
      `cannot be read (${code ?? 'unknown error'})`;
    throw new PkiError(`${label}: ${why}; pass a readable PEM file with ${flag}`);
  }
}

/**
 * Read and check the proxy CA from PEM files. The key may be RSA or ECDSA in
 * PKCS#1, PKCS#8 or SEC1 PEM. Returns normalized PEM (key as PKCS#8) ready
 * for `PkiPool.create`. Any problem is a one-line `PkiError` naming the file.
 */
export async function loadCaFromFiles(files: CaFiles): Promise<CheckedCaPem> {
  const certLabel = `CA certificate file ${JSON.stringify(files.certFile)} (--ca-cert)`;
  const keyLabel = `CA key file ${JSON.stringify(files.keyFile)} (--ca-key)`;
  const [certPem, keyPem] = await Promise.all([
    readText(files.certFile, certLabel, '--ca-cert'),
    readText(files.keyFile, keyLabel, '--ca-key'),
  ]);
  return checkCaPem({ certPem, keyPem }, { certLabel, keyLabel });
}
