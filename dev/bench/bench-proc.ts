/** What /proc says about a child process: CPU time used and resident memory (Linux). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds the process has used so far (all its threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Resolve once the process has used less than `idleCpu` seconds of CPU per `windowMs`
 * (it finished what it was doing), or after `timeoutMs` regardless. Returns whether idle.
 */
export async function waitIdle(pid: number, { windowMs = 300, idleCpu = 0.02, timeoutMs = 20_000 } = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let before = cpuSeconds(pid);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const now = cpuSeconds(pid);
    if (now - before <= idleCpu) return true;
    before = now;
  }
  return false;
}

/** Sample the RSS of `pids` every `intervalMs` until stop(); returns the largest seen per pid. */
export function sampleMaxRss(pids: readonly number[], intervalMs = 50): { stop(): Map<number, number> } {
  const max = new Map<number, number>();
  const sample = () => {
    for (const pid of pids) {
      try {
        max.set(pid, Math.max(max.get(pid) ?? 0, rssBytes(pid)));
      } catch {
        // the process has gone; keep what was seen
      }
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}

/** Sockets the process holds open (/proc/<pid>/fd links to `socket:[…]`). */
export function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n += 1;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Established TCP connections (IPv4 and IPv6) whose local port is `port`: the accepted side of a listener. */
export function establishedOnPort(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local?.endsWith(hex) && state === '01') n += 1;
    }
  }
  return n;
}
