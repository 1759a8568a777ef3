/**
 * Child processes of a benchmark: spawned through one registry, so every one of them is
 * stopped at the end, on an error, and on SIGINT/SIGTERM of the bench itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';

export interface BenchChild {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Settles with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Whether the process has ended. */
  readonly hasExited: () => boolean;
  /** Last stderr text (bounded), for error messages and the inspector URL. */
  readonly stderrTail: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now; resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  readonly args: readonly string[];
  /** Where stdout and stderr (our proxy and agent log there) are written; else stdout is ignored. */
  readonly stdoutFile?: string;
  readonly stdin?: 'ignore' | 'pipe';
  readonly cwd?: string;
  readonly stdoutPipe?: boolean;
  /** Added to the bench's environment (NODE_OPTIONS is always cleared). */
  readonly env?: Readonly<Record<string, string>>;
}

const STDERR_TAIL_BYTES = 64 * 1024;

export class BenchChildren {
  readonly #live = new Set<BenchChild>();
  #signalsHooked = false;

  /** `onSignal` runs after the children stopped on SIGINT/SIGTERM, before exit (e.g. remove temp files). */
  constructor(private readonly onSignal: () => Promise<void> = async () => {}) {}

  spawn(name: string, options: SpawnOptions): BenchChild {
    this.#hookSignals();
    const stdoutFd = options.stdoutFile ? openSync(options.stdoutFile, 'a') : undefined;
    const proc = spawn(process.execPath, options.args, {
      cwd: options.cwd,
      stdio: [options.stdin ?? 'ignore', options.stdoutPipe ? 'pipe' : (stdoutFd ?? 'ignore'), 'pipe'],
      env: { ...process.env, ...options.env, NODE_OPTIONS: '' },
    });
    if (stdoutFd !== undefined) closeSync(stdoutFd);
    if (proc.pid === undefined) throw new Error(`cannot start ${name}`);
    let tail = '';
    const log = options.stdoutFile ? createWriteStream(options.stdoutFile, { flags: 'a' }) : undefined;
    log?.on('error', () => {});
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (text: string) => {
      tail = (tail + text).slice(-STDERR_TAIL_BYTES);
      log?.write(text);
    });
    proc.stderr?.on('end', () => log?.end());
    let ended = false;
    const exited = new Promise<number | string>((resolve) => {
      proc.once('exit', (code, signal) => {
        ended = true;
        this.#live.delete(child);
        resolve(code ?? signal ?? 'unknown');
      });
    });
    const waitGone = async (graceMs: number) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    };
    const child: BenchChild = {
      name,
      pid: proc.pid,
      process: proc,
      exited,
      hasExited: () => ended,
      stderrTail: () => tail,
      stop: async (graceMs = 5_000) => {
        if (ended) return;
        proc.kill('SIGTERM');
        await waitGone(graceMs);
      },
      kill: async () => {
        if (ended) return;
        proc.kill('SIGKILL');
        await exited;
      },
    };
    this.#live.add(child);
    return child;
  }

  async stopAll(graceMs = 5_000): Promise<void> {
    await Promise.all([...this.#live].map((child) => child.stop(graceMs)));
  }

  #hookSignals(): void {
    if (this.#signalsHooked) return;
    this.#signalsHooked = true;
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`bench: ${signal}, stopping child processes\n`);
      void this.stopAll(2_000)
        .then(() => this.onSignal())
        .finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // Last resort: nothing outlives the bench.
    process.once('exit', () => {
      for (const child of this.#live) child.process.kill('SIGKILL');
    });
  }
}
