/**
 * What the kubelet does to start one container of a rendered Deployment, done on this
 * machine: the container's command and args with `$(VAR)` expanded from its env (values,
 * Secret keys, the pod's fields), the `kubernetes` Service variables, the service-account
 * token requested through the TokenRequest API with the cluster CA and namespace at
 * /var/run/secrets/kubernetes.io/serviceaccount, Secret volumes at their mountPaths with
 * their modes and fsGroup ownership, the pod's user and group, no new privileges, no
 * capabilities and a read-only root filesystem — in the pod's network namespace, its own
 * hostname (the pod's name) and a private mount namespace (a tmpfs on /run holds the
 * mounts; nothing is written to the machine's own /run). Not emulated: seccomp profiles, resource limits, image contents
 * (`commands` maps the image's entrypoints to this checkout's bin/).
 */
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManagedChild } from '../../../dev/demo/child.js';
import type { KubeClient } from '../../../src/kube/kube-client.js';
import { expand } from './expand.js';
import type { PodNetwork } from './pod-network.js';

export const KUBERNETES_SERVICE = { host: '10.96.0.1', port: 443 };
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface ContainerSpec {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
}
interface Volume {
  name: string;
  secret?: { secretName: string; defaultMode?: number; items?: Array<{ key: string; path: string; mode?: number }> };
}
export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: SecurityContext;
  containers: ContainerSpec[];
  volumes?: Volume[];
}

export interface PlanOptions {
  readonly podName: string;
  readonly namespace: string;
  readonly spec: PodSpec;
  /** Container name (default: the first). */
  readonly container?: string;
  /** Admin access to the cluster the pod runs in (Secrets, ConfigMaps, TokenRequest). */
  readonly api: KubeClient;
  /** Where volumes are staged before they are mounted. */
  readonly dir: string;
  /** The PATH the container sees (the image's). */
  readonly path: string;
  /** Last say on the final args (e.g. leave out flags the binary does not have yet). */
  readonly adjustArgs?: (args: string[]) => string[];
}

export interface ContainerPlan {
  readonly name: string;
  readonly hostname: string;
  /** The image entrypoint (command[0]) and the expanded arguments after it. */
  readonly entrypoint: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly mounts: ReadonlyArray<{ readonly source: string; readonly target: string }>;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly noNewPrivileges: boolean;
  readonly dropAllCapabilities: boolean;
  readonly readOnlyRoot: boolean;
}

export interface RunningContainer {
  readonly child: ManagedChild;
  readonly plan: ContainerPlan;
}

/** Single-quote for sh. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

async function secretData(api: KubeClient, namespace: string, name: string): Promise<Record<string, Buffer>> {
  const secret = await api.json<{ data?: Record<string, string> }>({ method: 'GET', path: `/api/v1/namespaces/${namespace}/secrets/${name}` }).catch((error: Error) => {
    throw new Error(`CreateContainerConfigError: secret "${name}" not found (${error.message})`);
  });
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

/** Write `files` into `dir` with `mode`, owned by root:fsGroup when set (mode then group-readable too). */
async function stage(dir: string, files: Record<string, Buffer | string>, mode: number, fsGroup: number | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    await writeFile(path, content);
    if (fsGroup !== undefined) await chown(path, 0, fsGroup);
    await chmod(path, fsGroup !== undefined ? mode | 0o440 : mode);
  }
}

export async function planContainer(o: PlanOptions): Promise<ContainerPlan> {
  const container = o.container ? o.spec.containers.find((c) => c.name === o.container) : o.spec.containers[0];
  if (!container) throw new Error(`no container ${o.container ?? ''} in the pod spec`);
  const sc: SecurityContext = { ...o.spec.securityContext, ...container.securityContext };
  const uid = sc.runAsUser ?? 0;
  if (sc.runAsNonRoot && uid === 0) throw new Error('CreateContainerConfigError: container has runAsNonRoot and image will run as root');

  // Environment: the kubelet's own variables, then the container's, expanded in order.
  const vars = new Map<string, string>([
    ['PATH', o.path],
    ['HOSTNAME', o.podName],
    ['KUBERNETES_SERVICE_HOST', KUBERNETES_SERVICE.host],
    ['KUBERNETES_SERVICE_PORT', String(KUBERNETES_SERVICE.port)],
    ['KUBERNETES_SERVICE_PORT_HTTPS', String(KUBERNETES_SERVICE.port)],
    ['KUBERNETES_PORT', `tcp://${KUBERNETES_SERVICE.host}:${KUBERNETES_SERVICE.port}`],
  ]);
  for (const e of container.env ?? []) {
    let value: string;
    if (e.value !== undefined) value = expand(e.value, vars);
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const data = await secretData(o.api, o.namespace, ref.name);
      const v = data[ref.key];
      if (!v) throw new Error(`CreateContainerConfigError: couldn't find key ${ref.key} in Secret ${o.namespace}/${ref.name}`);
      value = v.toString('utf8');
    } else if (e.valueFrom?.fieldRef) {
      const fields: Record<string, string> = { 'metadata.name': o.podName, 'metadata.namespace': o.namespace, 'status.podIP': '127.0.0.1' };
      value = fields[e.valueFrom.fieldRef.fieldPath] ?? '';
    } else value = '';
    vars.set(e.name, value);
  }
  const argv = [...(container.command ?? []).slice(1), ...(container.args ?? [])].map((a) => expand(a, vars));
  const args = o.adjustArgs ? o.adjustArgs(argv) : argv;
  const entrypoint = container.command?.[0];
  if (!entrypoint) throw new Error(`container ${container.name} has no command`);

  // Volumes, staged then bind-mounted read-only in the container's mount namespace.
  const base = join(o.dir, `${o.podName}-${container.name}`);
  const mounts: Array<{ source: string; target: string }> = [];
  if (o.spec.automountServiceAccountToken !== false) {
    const sa = o.spec.serviceAccountName ?? 'default';
    const request = await o.api.json<{ status: { token: string } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${o.namespace}/serviceaccounts/${sa}/token`,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: o.podName } } },
    });
    const rootCa = await o.api.json<{ data: { 'ca.crt': string } }>({ method: 'GET', path: `/api/v1/namespaces/${o.namespace}/configmaps/kube-root-ca.crt` });
    const source = join(base, 'kube-api-access');
    await stage(source, { token: request.status.token, 'ca.crt': rootCa.data['ca.crt'], namespace: o.namespace }, 0o644, sc.fsGroup);
    mounts.push({ source, target: SERVICE_ACCOUNT_DIR });
  }
  for (const m of container.volumeMounts ?? []) {
    const volume = o.spec.volumes?.find((v) => v.name === m.name);
    if (!volume?.secret) throw new Error(`volume ${m.name}: only secret volumes are emulated`);
    if (!/^\/(var\/)?run\//.test(m.mountPath)) throw new Error(`volume ${m.name}: mountPath ${m.mountPath} is outside /run; the emulation mounts only there`);
    const data = await secretData(o.api, o.namespace, volume.secret.secretName);
    const items = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    const files: Record<string, Buffer> = {};
    for (const item of items) {
      const v = data[item.key];
      if (!v) throw new Error(`MountVolume.SetUp failed for volume "${m.name}": references non-existent secret key: ${item.key}`);
      files[item.path] = v;
    }
    const source = join(base, `volume-${m.name}`);
    await stage(source, files, volume.secret.defaultMode ?? 0o644, sc.fsGroup);
    mounts.push({ source, target: m.mountPath });
  }

  return {
    name: container.name,
    hostname: o.podName,
    entrypoint,
    args,
    env: Object.fromEntries(vars),
    mounts,
    uid,
    gid: sc.runAsGroup ?? uid,
    groups: sc.fsGroup !== undefined ? [sc.fsGroup] : [],
    noNewPrivileges: sc.allowPrivilegeEscalation === false,
    dropAllCapabilities: sc.capabilities?.drop?.includes('ALL') ?? false,
    readOnlyRoot: sc.readOnlyRootFilesystem ?? false,
  };
}

/** Start `plan` with this checkout standing in for the image (`commands`: entrypoint → command). */
export function runOnHost(plan: ContainerPlan, pod: PodNetwork, commands: Readonly<Record<string, readonly string[]>>, logFile?: string): RunningContainer {
  const mapped = commands[plan.entrypoint];
  if (!mapped) throw new Error(`no stand-in for the image entrypoint ${plan.entrypoint}`);
  const setup = [
    'set -e',
    `hostname ${q(plan.hostname)}`,
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    ...plan.mounts.flatMap((m) => [`mkdir -p ${q(m.target)}`, `mount --bind ${q(m.source)} ${q(m.target)}`, `mount -o remount,bind,ro ${q(m.target)}`]),
    ...(plan.readOnlyRoot ? ['mount -o remount,bind,ro /'] : []),
    'exec "$@"',
  ].join('\n');
  const setpriv = [
    'setpriv',
    `--reuid=${plan.uid}`,
    `--regid=${plan.gid}`,
    ...(plan.groups.length ? [`--groups=${plan.groups.join(',')}`] : ['--clear-groups']),
    ...(plan.noNewPrivileges ? ['--no-new-privs'] : []),
    ...(plan.dropAllCapabilities ? ['--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all'] : []),
    '--',
  ];
  const child = new ManagedChild({
    name: `${plan.hostname}/${plan.name}`,
    command: 'nsenter',
    args: [`--net=${pod.netns}`, '--', 'unshare', '--mount', '--uts', '--propagation', 'private', '--', 'sh', '-c', setup, 'container', ...setpriv, ...mapped, ...plan.args],
    env: { ...plan.env },
    ...(logFile ? { logFile } : {}),
  });
  return { child, plan };
}
