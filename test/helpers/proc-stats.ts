/**
 * What an attacked process holds, read from Linux's /proc: resident memory (now and its
 * peak) and open file descriptors. The peak (VmHWM) can be reset by root through
 * /proc/<pid>/clear_refs, so an attack's own peak is measured, not the start-up's; fds
 * have no kernel peak, so a sampler keeps the highest count it saw.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';

export interface ProcStats {
  readonly rssBytes: number;
  /** Peak resident memory since start or the last `resetPeak`. */
  readonly peakRssBytes: number;
  readonly fds: number;
}

export async function readProcStats(pid: number): Promise<ProcStats> {
  const [status, fds] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readdir(`/proc/${pid}/fd`)]);
  return { rssBytes: statusKb(status, 'VmRSS') * 1024, peakRssBytes: statusKb(status, 'VmHWM') * 1024, fds: fds.length };
}

/** Make VmHWM the current RSS (Linux ≥ 4.0, needs the right to write clear_refs). */
export async function resetPeak(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function statusKb(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

/** Peaks of one process over an interval, against where it started. */
export interface ProcPeak {
  readonly before: ProcStats;
  readonly peakRssBytes: number;
  readonly peakFds: number;
  readonly after: ProcStats;
}

/**
 * Watch `pid` from now until `stop()`: the peak RSS (kernel's, after a reset; the highest
 * sample where a reset is not allowed) and the highest fd count sampled.
 */
export async function watchProc(pid: number, intervalMs = 50): Promise<{ stop(): Promise<ProcPeak> }> {
  const reset = await resetPeak(pid);
  const before = await readProcStats(pid);
  let peakRss = reset ? before.peakRssBytes : before.rssBytes;
  let peakFds = before.fds;
  let sampling = false;
  const timer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    readProcStats(pid)
      .then((s) => {
        peakRss = Math.max(peakRss, reset ? s.peakRssBytes : s.rssBytes);
        peakFds = Math.max(peakFds, s.fds);
      })
      .catch(() => {}) // the process may be gone; the last samples stand
      .finally(() => (sampling = false));
  }, intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      const after = await readProcStats(pid).catch(() => before);
      peakRss = Math.max(peakRss, reset ? after.peakRssBytes : after.rssBytes);
      peakFds = Math.max(peakFds, after.fds);
      return { before, peakRssBytes: peakRss, peakFds, after };
    },
  };
}

export const MiB = 1024 * 1024;

/** "proxy RSS 120→180 MB (peak +60), fds 25→2,025 (peak)" for diagnostics and reports. */
export function describePeak(name: string, p: ProcPeak): string {
  const mb = (n: number) => (n / MiB).toFixed(0);
  return (
    `${name} RSS ${mb(p.before.rssBytes)}→${mb(p.after.rssBytes)} MB (peak ${mb(p.peakRssBytes)} MB, +${mb(p.peakRssBytes - p.before.rssBytes)}), ` +
    `fds ${p.before.fds}→${p.after.fds} (peak ${p.peakFds})`
  );
}
