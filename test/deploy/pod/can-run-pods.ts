/**
 * Whether this machine can run emulated pods: root (namespaces and mounts), util-linux's
 * unshare, nsenter and setpriv, iproute2's ip, and a non-root user that can run node and
 * read this checkout. Answers false, or the reason to skip (node:test's `skip` option).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../../dev/demo/paths.js';

function ok(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(command, args, { timeout: 20_000 }, (error) => resolve(!error)));
}

export async function canRunPods(): Promise<false | string> {
  if (process.getuid?.() !== 0) return 'emulated pods need root (network and mount namespaces)';
  if (!(await ok('unshare', ['--net', '--mount', '--uts', '--propagation', 'private', '--', 'ip', 'link', 'set', 'lo', 'up'])))
    return 'cannot create network/mount namespaces here (unshare from util-linux and ip from iproute2 are needed, with CAP_SYS_ADMIN)';
  if (!(await ok('setpriv', ['--reuid=65532', '--regid=65532', '--clear-groups', '--', process.execPath, join(PACKAGE_ROOT, 'bin', 'proxy'), '--help'])))
    return `uid 65532 cannot run ${process.execPath} ${join(PACKAGE_ROOT, 'bin', 'proxy')} (node or this checkout is not readable by other users)`;
  return false;
}
