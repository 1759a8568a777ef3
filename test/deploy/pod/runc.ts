/**
 * A container plan started from the built image with Debian's runc, as a container
 * runtime would under the kubelet: the image's unpacked root (read-only), its config
 * (PATH, working directory), the plan's args, env, user and groups, no new privileges, no
 * capabilities, the staged volumes bind-mounted read-only, in the pod's network namespace.
 * runc keeps its state under the test's directory, not /run/runc. Not set: a seccomp
 * profile (the kubelet's RuntimeDefault is the runtime's built-in one; runc has none).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManagedChild } from '../../../dev/demo/child.js';
import type { ContainerPlan, RunningContainer } from './run-container.js';
import type { PodNetwork } from './pod-network.js';

/** An image unpacked by `umoci unpack`: rootfs/ and the runtime config.json made from the image config. */
export interface ImageBundle {
  readonly dir: string;
  /** PATH from the image config. */
  readonly path: string;
}

interface RuntimeConfig {
  process: {
    terminal?: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    noNewPrivileges?: boolean;
    capabilities?: Record<string, string[]>;
  };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: Array<{ destination: string; type: string; source: string; options?: string[] }>;
  linux: { namespaces: Array<{ type: string; path?: string }>; [k: string]: unknown };
  [k: string]: unknown;
}

export function runcCommand(args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('runc', args, { timeout: timeoutMs }, (error, stdout, stderr) => (error ? reject(new Error(`runc ${args.join(' ')}: ${stderr.trim() || error.message}`)) : resolve(stdout))),
  );
}

/** The image's PATH, from the config.json umoci made for the bundle. */
export async function imageBundle(dir: string): Promise<ImageBundle> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as RuntimeConfig;
  const path = config.process.env.find((e) => e.startsWith('PATH='))?.slice('PATH='.length) ?? '/usr/local/bin:/usr/bin:/bin';
  return { dir, path };
}

export interface RuncContainer extends RunningContainer {
  readonly id: string;
  readonly stateDir: string;
}

/** Write the container's config next to the image bundle and `runc run` it in the foreground. */
export async function runInRunc(plan: ContainerPlan, pod: PodNetwork, image: ImageBundle, workDir: string): Promise<RuncContainer> {
  const config = JSON.parse(await readFile(join(image.dir, 'config.json'), 'utf8')) as RuntimeConfig;
  const id = `${plan.hostname}-${plan.name}`;
  const dir = join(workDir, `runc-${id}`);
  const stateDir = join(workDir, 'runc-state');
  await mkdir(dir, { recursive: true });
  config.process = {
    ...config.process,
    terminal: false,
    args: [plan.entrypoint, ...plan.args],
    env: Object.entries(plan.env).map(([k, v]) => `${k}=${v}`),
    user: { uid: plan.uid, gid: plan.gid, additionalGids: [...plan.groups] },
    noNewPrivileges: plan.noNewPrivileges,
    ...(plan.dropAllCapabilities ? { capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] } } : {}),
  };
  config.root = { path: join(image.dir, 'rootfs'), readonly: plan.readOnlyRoot };
  config.hostname = plan.hostname;
  config.mounts = [
    ...config.mounts,
    ...plan.mounts.map((m) => ({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] })),
  ];
  config.linux.namespaces = [...config.linux.namespaces.filter((n) => n.type !== 'network'), { type: 'network', path: pod.netns }];
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const child = new ManagedChild({ name: `runc ${id}`, command: 'runc', args: ['--root', stateDir, 'run', '--bundle', dir, id] });
  return { child, plan, id, stateDir };
}
