/**
 * A process under test (one of our bins, the demo, a shell): every output line kept with
 * its stream, bounded waits for a line or for the exit, and a stop that always ends it.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface OutputLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** The line parsed as JSON (a pino log line), when it is an object. */
  readonly json?: Readonly<Record<string, unknown>>;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class BinProcess {
  readonly child: ChildProcess;
  readonly lines: OutputLine[] = [];
  readonly exited: Promise<Exit>;
  #exit: Exit | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #group: boolean;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    options: SpawnOptions = {},
  ) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.#group = options.detached === true;
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = this.child[stream];
      if (!source) continue;
      createInterface({ input: source }).on('line', (text) => {
        let json: OutputLine['json'];
        if (text.startsWith('{')) {
          try {
            const value: unknown = JSON.parse(text);
            if (value && typeof value === 'object' && !Array.isArray(value)) json = value as Record<string, unknown>;
          } catch {
            // not JSON
          }
        }
        this.lines.push(json ? { stream, text, json } : { stream, text });
        this.#notify();
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', () => resolve((this.#exit = { code: 127, signal: null })));
      // 'close' follows the exit once both pipes ended: every line has been read.
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  get exit(): Exit | undefined {
    return this.#exit;
  }

  output(): string {
    return this.lines.map((l) => `${l.stream}: ${l.text}`).join('\n');
  }

  /** The first line (seen or to come) that `match` accepts; rejects on exit or timeout. */
  waitLine(match: RegExp | ((line: OutputLine) => boolean), what: string, timeoutMs = 20_000): Promise<OutputLine> {
    const test = typeof match === 'function' ? match : (line: OutputLine) => match.test(line.text);
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find(test);
        if (line) return finish(undefined, line);
        if (this.#exit) finish(new Error(`${this.command} exited (${describe(this.#exit)}) while waiting for ${what}:\n${this.tail()}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.tail()}`)), timeoutMs);
      const finish = (error?: Error, line?: OutputLine) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(line!);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolves once `check()` holds, re-checked at every new line; rejects on exit or timeout. */
  waitUntil(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = () => {
        if (check()) return finish();
        if (this.#exit) finish(new Error(`${this.command} exited (${describe(this.#exit)}) while waiting for ${what}:\n${this.tail()}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.tail()}`)), timeoutMs);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.#waiters.delete(test);
        if (error) reject(error);
        else resolve();
      };
      this.#waiters.add(test);
      test();
    });
  }

  /** The exit, or SIGKILL and a rejection after `timeoutMs`. */
  async waitExit(what: string, timeoutMs = 20_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.tail()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Signal the process (its whole group when it was spawned detached). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.#exit || this.child.pid === undefined) return;
    try {
      process.kill(this.#group ? -this.child.pid : this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 5000): Promise<Exit> {
    if (this.#exit) return this.#exit;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  tail(lines = 25): string {
    return this.output().split('\n').slice(-lines).join('\n');
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

function describe(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** Run to the end (bounded) and return the process with its lines. */
export async function runToEnd(command: string, args: readonly string[], options: SpawnOptions = {}, timeoutMs = 20_000): Promise<BinProcess & { readonly exitCode: number | null }> {
  const proc = new BinProcess(command, args, options);
  const exit = await proc.waitExit(`${command} ${args.join(' ')}`, timeoutMs);
  return Object.assign(proc, { exitCode: exit.code });
}
