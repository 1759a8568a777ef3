/**
 * A pid lock file: one `npm start` at a time. A lock left by a process that is gone (or
 * that is no longer the demo, e.g. after `kill -9`) is stale: it is taken over, and the
 * result names the pid it was left by so the demo can say so.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

export type LockResult =
  | { readonly acquired: true; release(): void; /** The pid of a stale lock taken over. */ readonly staleFrom?: number }
  | { readonly acquired: false; readonly pid: number };

export function acquireLock(path: string, isOurs: (pid: number) => boolean = looksAlive): LockResult {
  let staleFrom: number | undefined;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = readPid(path);
      if (pid !== undefined && pid !== process.pid && isOurs(pid)) return { acquired: false, pid };
      if (pid !== undefined && pid !== process.pid) staleFrom = pid;
      try {
        unlinkSync(path); // stale: its process is gone
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError;
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return {
      acquired: true,
      ...(staleFrom !== undefined ? { staleFrom } : {}),
      release: () => {
        if (readPid(path) !== process.pid) return;
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      },
    };
  }
  throw new Error(`cannot take the lock ${path}: another process keeps recreating it`);
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The process exists (signal 0 reaches it, or it exists but is not ours to signal). */
export function looksAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive and, where /proc tells, a node process running the demo (not a reused pid). */
export function isDemoProcess(pid: number): boolean {
  if (!looksAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('demo');
  } catch {
    return true; // no /proc: trust the pid
  }
}
