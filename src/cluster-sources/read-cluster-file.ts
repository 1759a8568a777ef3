/** Reads the `--clusters` file as text, with one-line errors a user can act on. */
import { readFile, stat } from 'node:fs/promises';
import { ClusterFileError } from './cluster-file-error.js';
import { clusterFileLabel } from './parse-clusters.js';

/** Larger files are refused: a clusters file is a few KB per cluster. */
export const MAX_CLUSTER_FILE_BYTES = 8 * 1024 * 1024;

const READ_FIXES: Readonly<Record<string, string>> = {
  ENOENT: 'does not exist; check the --clusters path',
  ENOTDIR: 'does not exist (a parent is not a directory); check the --clusters path',
  EACCES: "cannot be read (permission denied); let the proxy's user read it",
  EPERM: "cannot be read (operation not permitted); let the proxy's user read it",
  ELOOP: 'is a symlink loop; point --clusters at a real file',
};

/** @throws ClusterFileError */
export async function readClusterFile(file: string): Promise<string> {
  const label = clusterFileLabel(file);
  try {
    const info = await stat(file);
    if (!info.isFile()) {
      throw new ClusterFileError(`${label}: is not a regular file; point --clusters at a YAML or JSON file`);
    }
    if (info.size > MAX_CLUSTER_FILE_BYTES) {
      throw new ClusterFileError(
        `${label}: is ${info.size} bytes, over the ${MAX_CLUSTER_FILE_BYTES}-byte limit; is it the right file?`,
      );
    }
    const bytes = await readFile(file);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ClusterFileError(`${label}: is not UTF-8 text; save it as UTF-8`);
    }
  } catch (err) {
    if (err instanceof ClusterFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ClusterFileError(`${label}: ${READ_FIXES[code] ?? `cannot be read (${code})`}`);
  }
}
