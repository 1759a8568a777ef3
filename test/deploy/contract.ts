/**
 * What the manifests rely on that the binaries may not have yet (agreed with the lead:
 * the proxy's --shutdown-grace, /livez and /readyz; the agent's /livez and /readyz; the
 * proxy's Events). A test that meets a missing piece says so by name instead of failing
 * the whole flow, and checks it for real as soon as the binary has it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';

/** The long flags a bin/ executable lists in its --help. */
export function flagsOf(bin: 'proxy' | 'agent'): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(PACKAGE_ROOT, 'bin', bin), '--help'], { timeout: 30_000 }, (error, stdout) => {
      if (error && !stdout) return reject(error);
      resolve(new Set([...stdout.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string)));
    });
  });
}

/** `args` without the flags `known` lacks, and which were left out. */
export function knownFlagsOnly(args: readonly string[], known: ReadonlySet<string>): { args: string[]; dropped: string[] } {
  const dropped: string[] = [];
  const kept = args.filter((a) => {
    const m = /^--([a-z][a-z0-9-]*)/.exec(a);
    if (!m || known.has(m[1] as string)) return true;
    dropped.push(a);
    return false;
  });
  return { args: kept, dropped };
}
