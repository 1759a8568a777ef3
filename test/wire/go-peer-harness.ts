/**
 * Build and run the Go test peers of test/go-peer/ (golang.org/x/crypto/ssh +
 * gorilla/websocket, the libraries of the Go tower), and bounded waits for what they and
 * our actors do next.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Debian's GOPATH tree of the -dev packages. */
export const DEBIAN_GOPATH = '/usr/share/gocode';
export const APT_LINE = 'apt-get install -y golang-go golang-golang-x-crypto-dev golang-github-gorilla-websocket-dev';

/** test/go-peer/ in the source tree (this file runs from dist/test/wire/). */
const PEER_SOURCES = fileURLToPath(new URL('../../../test/go-peer', import.meta.url));
const PEERS = ['agent', 'proxy'] as const;

export interface GoAvailability {
  readonly ok: boolean;
  /** Why the Go peer tests are skipped (when not ok). */
  readonly reason?: string;
  readonly version?: string;
}

/** Is a Go toolchain with the two libraries here? Cheap and synchronous: for `skip`. */
export function detectGo(): GoAvailability {
  const probe = spawnSync('go', ['version'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.error || probe.status !== 0) {
    return { ok: false, reason: `go is not on PATH (${probe.error?.message ?? probe.stderr.trim()}); to run these tests: ${APT_LINE}` };
  }
  for (const lib of ['golang.org/x/crypto/ssh', 'github.com/gorilla/websocket']) {
    if (!existsSync(join(DEBIAN_GOPATH, 'src', lib))) {
      return { ok: false, reason: `${lib} is not in ${DEBIAN_GOPATH}; to run these tests: ${APT_LINE}` };
    }
  }
  if (!existsSync(join(PEER_SOURCES, 'agent', 'main.go'))) {
    return { ok: false, reason: `Go peer sources not found at ${PEER_SOURCES}` };
  }
  return { ok: true, version: probe.stdout.trim() };
}

export interface GoPeers {
  readonly agent: string;
  readonly proxy: string;
}

/**
 * Build both peers offline in GOPATH mode against Debian's packages, into
 * $TMPDIR/tower-go-peers/<hash of sources and go version>/ (reused when present).
 */
export async function buildGoPeers(goVersion: string): Promise<GoPeers> {
  const hash = createHash('sha256').update(goVersion);
  for (const peer of PEERS) hash.update(await readFile(join(PEER_SOURCES, peer, 'main.go')));
  const root = join(tmpdir(), 'tower-go-peers');
  const dir = join(root, hash.digest('hex').slice(0, 16));
  const peers: GoPeers = { agent: join(dir, 'go-agent'), proxy: join(dir, 'go-proxy') };
  if (existsSync(peers.agent) && existsSync(peers.proxy)) return peers;

  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const env = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: DEBIAN_GOPATH,
    GOCACHE: join(root, 'gocache'),
    GOFLAGS: '',
    GOPROXY: 'off',
    CGO_ENABLED: '0',
  };
  try {
    for (const peer of PEERS) {
      await new Promise<void>((resolve, reject) => {
        execFile(
          'go',
          ['build', '-trimpath', '-o', join(staging, `go-${peer}`), `./${peer}`],
          { cwd: PEER_SOURCES, env, timeout: 300_000, maxBuffer: 4 * 1024 * 1024 },
          (error, _stdout, stderr) => (error ? reject(new Error(`go build ./test/go-peer/${peer} failed: ${error.message}\n${stderr}`)) : resolve()),
        );
      });
    }
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    // Builds of older sources are of no further use.
    for (const entry of await readdir(root)) {
      if (/^[0-9a-f]{16}$/.test(entry) && join(root, entry) !== dir) await rm(join(root, entry), { recursive: true, force: true });
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another process may have finished the same build first.
    if (existsSync(peers.agent) && existsSync(peers.proxy)) return peers;
    throw error;
  }
  return peers;
}

/** Default bound of every wait in these tests. */
export const WAIT_MS = 10_000;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A Go peer process: its stdout lines, waits on them, and a stop that always ends it. */
export class PeerProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  #stderr = '';
  #exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly label: string,
    binary: string,
    args: readonly string[],
  ) {
    this.child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.#stderr += `spawn: ${error.message}\n`;
        this.#exit = { code: null, signal: null };
        this.#notify();
        resolve(this.#exit);
      });
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.#notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.#stderr.length < 64 * 1024) this.#stderr += chunk;
    });
  }

  get stderr(): string {
    return this.#stderr;
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  /** The first stdout line (seen so far or to come) matching `re`. */
  waitLine(re: RegExp, timeoutMs = WAIT_MS): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const match = re.exec(line);
          if (match) return finish(() => resolve(match));
        }
        if (this.#exit) finish(() => reject(new Error(`${this.label} exited (${describeExit(this.#exit!)}) before printing ${re}${this.#context()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.label} printed no line matching ${re} within ${timeoutMs} ms${this.#context()}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        settle();
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** The exit, or a failure when it does not come within `timeoutMs`. */
  waitExit(timeoutMs = WAIT_MS): Promise<Exit> {
    return withTimeout(this.exited, timeoutMs, `${this.label} did not exit${this.#context()}`);
  }

  /** SIGTERM, then SIGKILL if it lingers; resolves once the process is gone. */
  async stop(): Promise<Exit> {
    if (this.#exit) return this.#exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #context(): string {
    return `\n  stdout: ${JSON.stringify(this.lines)}\n  stderr: ${JSON.stringify(this.#stderr)}`;
  }
}

function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** `promise`, or a rejection with `what` after `timeoutMs`. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} (waited ${timeoutMs} ms)`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

interface Subscribable<S> {
  getSnapshot(): S;
  subscribe(observer: { next: (snapshot: S) => void; error?: (error: unknown) => void }): { unsubscribe(): void };
}

/**
 * Wait until an actor's snapshot satisfies `predicate` (checked now and at every new
 * snapshot); fails after `timeoutMs` with `describe` of the last snapshot.
 */
export function waitForSnapshot<S>(
  actor: Subscribable<S>,
  predicate: (snapshot: S) => boolean,
  what: string,
  describe: (snapshot: S) => string,
  timeoutMs = WAIT_MS,
): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    let done = false;
    let subscription: { unsubscribe(): void } | undefined;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      subscription?.unsubscribe();
      settle();
    };
    const timer = setTimeout(
      () => finish(() => reject(new Error(`${what}: not reached within ${timeoutMs} ms; last ${describe(actor.getSnapshot())}`))),
      timeoutMs,
    );
    const check = (snapshot: S) => {
      if (predicate(snapshot)) finish(() => resolve(snapshot));
    };
    subscription = actor.subscribe({
      next: check,
      error: (error) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
    });
    if (done) subscription.unsubscribe();
    else check(actor.getSnapshot());
  });
}

