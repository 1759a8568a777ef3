/**
 * A long-running child (the real bin/proxy or bin/agent): output collected from the start
 * and copied to a log file, bounded waits for a line, and a stop that always ends it.
 *
 * With `tiedToParent`, a node child runs in a process group of its own (a Ctrl-C in the
 * terminal reaches only us, and we stop the children in order) and watches us through a
 * pipe (parent-watch.ts): if we die without stopping it, it stops itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ManagedChildOptions {
  /** For messages, e.g. "proxy". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Standard output and error are copied here (the file is truncated at start unless `appendLog`). */
  readonly logFile?: string;
  readonly appendLog?: boolean;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `command` is node: load parent-watch.ts into it and give it its own process group. */
  readonly tiedToParent?: boolean;
}

/** parent-watch.js, next to this module once compiled. */
const PARENT_WATCH = new URL('./parent-watch.js', import.meta.url).href;

/** Output kept in memory for waits and error messages (the log file has all of it). */
const MAX_KEPT = 1024 * 1024;

export class ManagedChild {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  #output = '';
  #exit: ChildExit | undefined;
  #log: WriteStream | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(readonly options: ManagedChildOptions) {
    this.#log = options.logFile ? createWriteStream(options.logFile, { flags: options.appendLog ? 'a' : 'w', mode: 0o600 }) : undefined;
    const tied = options.tiedToParent === true;
    this.process = spawn(options.command, tied ? ['--import', PARENT_WATCH, ...options.args] : options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      // fd 3: the pipe the child watches; we never write to it, it closes when we die.
      stdio: tied ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      detached: tied,
    });
    const onData = (d: Buffer) => {
      this.#log?.write(d);
      this.#output += d.toString('utf8');
      if (this.#output.length > MAX_KEPT) this.#output = this.#output.slice(-MAX_KEPT / 2);
      this.#notify();
    };
    this.process.stdout?.on('data', onData);
    this.process.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.process.once('error', (error) => {
        this.#output += `\n${options.name}: cannot start ${options.command}: ${error.message}\n`;
        this.#finish({ code: 127, signal: null }, resolve);
      });
      this.process.once('close', (code, signal) => this.#finish({ code, signal }, resolve));
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Everything it printed that is still kept. */
  get output(): string {
    return this.#output;
  }

  get exit(): ChildExit | undefined {
    return this.#exit;
  }

  /** The last `lines` lines of output, for error messages. */
  tail(lines = 15): string {
    return this.#output.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Resolves with the first match of `pattern` in the output from `from` on; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.#output.slice(from));
        if (match) return done(undefined, match);
        if (this.#exit) {
          done(new Error(`${this.options.name} exited (${describeExit(this.#exit)}) before printing ${String(pattern)}:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(
        () => done(new Error(`${this.options.name}: nothing matching ${String(pattern)} within ${timeoutMs} ms:\n${this.tail()}`)),
        timeoutMs,
      );
      const done = (error?: Error, match?: RegExpExecArray) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(match as RegExpExecArray);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 5000): Promise<ChildExit> {
    if (this.#exit) return this.#exit;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  #finish(exit: ChildExit, resolve: (exit: ChildExit) => void): void {
    if (this.#exit) return;
    this.#exit = exit;
    this.#notify();
    const log = this.#log;
    this.#log = undefined;
    if (log) log.end(() => resolve(exit));
    else resolve(exit);
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

export function describeExit(exit: ChildExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
