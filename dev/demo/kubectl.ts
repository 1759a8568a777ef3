/**
 * The real kubectl, run with an explicit `--kubeconfig` (and optionally `--cache-dir`)
 * on every call, as a user would type it. Used by `npm start` and the end-to-end tests.
 */
import { spawn } from 'node:child_process';

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface KubectlOptions {
  /** Default kubeconfig for every call. */
  readonly kubeconfig: string;
  /** kubectl's discovery/HTTP cache; a fresh directory keeps runs independent. */
  readonly cacheDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Per call (default 30 s); the process is killed after it. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

export interface KubectlCall {
  readonly input?: string;
  /** Another kubeconfig for this call. */
  readonly kubeconfig?: string;
  readonly timeoutMs?: number;
}

export class KubectlError extends Error {
  override name = 'KubectlError';
  constructor(
    readonly args: readonly string[],
    readonly result: KubectlResult,
  ) {
    super(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr.trim().split('\n')[0] ?? ''}`);
  }
}

export class Kubectl {
  constructor(readonly options: KubectlOptions) {}

  /** The flags every call gets: `--kubeconfig K [--cache-dir D]`. */
  base(kubeconfig = this.options.kubeconfig): string[] {
    return ['--kubeconfig', kubeconfig, ...(this.options.cacheDir ? ['--cache-dir', this.options.cacheDir] : [])];
  }

  /** Run kubectl; never rejects for a non-zero exit (see `code`). */
  run(args: readonly string[], call: KubectlCall = {}): Promise<KubectlResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('kubectl', [...this.base(call.kubeconfig), ...args], {
        env: this.options.env ?? process.env,
        cwd: this.options.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => child.kill('SIGKILL'), call.timeoutMs ?? this.options.timeoutMs ?? 30_000);
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run kubectl: ${error.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString('utf8') + (signal ? `\n(killed by ${signal})` : '');
        resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr });
      });
      child.stdin.on('error', () => {}); // kubectl may exit before reading its input
      child.stdin.end(call.input);
    });
  }

  /** Run kubectl and return its standard output; rejects with KubectlError on a non-zero exit. */
  async ok(args: readonly string[], call: KubectlCall = {}): Promise<string> {
    const result = await this.run(args, call);
    if (result.code !== 0) throw new KubectlError(args, result);
    return result.stdout;
  }

  /**
   * `kubectl kustomize DIR | kubectl create -f -`: two processes joined by a pipe, as the
   * seed's `kustomize build | kubectl create -f -`. Returns create's output.
   */
  kustomizeCreate(dir: string, call: KubectlCall = {}): Promise<string> {
    const env = this.options.env ?? process.env;
    const timeoutMs = call.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const build = spawn('kubectl', [...this.base(call.kubeconfig), 'kustomize', dir], { env, cwd: this.options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      const create = spawn('kubectl', [...this.base(call.kubeconfig), 'create', '-f', '-'], { env, cwd: this.options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      build.stdout.pipe(create.stdin);
      create.stdin.on('error', () => {});
      const texts = { buildErr: '', out: '', err: '' };
      build.stderr.on('data', (d: Buffer) => (texts.buildErr += d.toString()));
      create.stdout.on('data', (d: Buffer) => (texts.out += d.toString()));
      create.stderr.on('data', (d: Buffer) => (texts.err += d.toString()));
      const timer = setTimeout(() => (build.kill('SIGKILL'), create.kill('SIGKILL')), timeoutMs);
      const exits = [build, create].map(
        (p) =>
          new Promise<number>((res) => {
            p.on('error', (error) => res((reject(new Error(`cannot run kubectl: ${error.message}`)), 1)));
            p.on('close', (code) => res(code ?? 1));
          }),
      );
      void Promise.all(exits).then(([buildCode, createCode]) => {
        clearTimeout(timer);
        if (buildCode !== 0) return reject(new Error(`kubectl kustomize ${dir} exited ${buildCode}: ${texts.buildErr.trim()}`));
        if (createCode !== 0) return reject(new Error(`kubectl create -f - exited ${createCode}: ${texts.err.trim()}`));
        resolve(texts.out);
      });
    });
  }
}
