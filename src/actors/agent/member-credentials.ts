/**
 * How the agent reaches its own kube-apiserver, and the credentials the proxy will use
 * there: from a kubeconfig, or in-cluster from the service-account files. Read anew at
 * every connection, so a rotated token or certificate is picked up on reconnect.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeAccess, KubeCredentials } from '../../kube/kube-access.js';
import { DEFAULT_KUBERNETES_PORT } from '../../protocol/constants.js';
import { normalizeHostPort } from '../../protocol/host-port.js';

export interface MemberCredentials {
  /** `host:port` of the member kube-apiserver as the agent reaches it. */
  readonly kubernetesSvcHost: string;
  readonly caData?: Buffer;
  readonly certData?: Buffer;
  readonly keyData?: Buffer;
  readonly bearerToken?: Buffer;
}

export type CredentialSource =
  | { readonly kind: 'kubeconfig'; readonly path: string }
  | {
      readonly kind: 'in-cluster';
      /** Holds `token` and `ca.crt`; default /var/run/secrets/kubernetes.io/serviceaccount. */
      readonly serviceAccountDir: string;
      readonly serviceHost: string | undefined;
      readonly servicePort: string | undefined;
    };

export { DEFAULT_SERVICE_ACCOUNT_DIR } from '../../kube/service-account.js';

/** A problem the user can fix; the message is one line and names no secret. */
export class CredentialError extends Error {
  override name = 'CredentialError';
}

export async function loadMemberCredentials(source: CredentialSource): Promise<MemberCredentials> {
  return source.kind === 'kubeconfig' ? fromKubeconfig(source.path) : fromServiceAccount(source);
}

async function fromKubeconfig(path: string): Promise<MemberCredentials> {
  // The kubeconfig reader (and its YAML parser) only for agents given a kubeconfig, not in-cluster ones.
  const [{ readKubeconfigFile }, { openKubeAccess }] = await Promise.all([import('../../kube/kubeconfig-read.js'), import('../../kube/kube-access.js')]);
  let access: KubeAccess;
  try {
    access = openKubeAccess(readKubeconfigFile(path));
  } catch (error) {
    throw new CredentialError(firstLine(error));
  }
  const server = access.server;
  const hostPort = normalizeHostPort(server.host, server.protocol === 'http:' ? 80 : DEFAULT_KUBERNETES_PORT);
  if (!hostPort) throw new CredentialError(`kubeconfig ${path}: cluster server has no usable host`);
  let options: KubeCredentials;
  try {
    options = await access.credentials();
  } catch (error) {
    throw new CredentialError(firstLine(error)); // names the kubeconfig
  }
  const auth = options.headers['Authorization'];
  const bearer = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
  const credentials: MemberCredentials = {
    kubernetesSvcHost: hostPort,
    caData: nonEmpty(options.ca),
    certData: nonEmpty(options.cert),
    keyData: nonEmpty(options.key),
    bearerToken: bearer ? Buffer.from(bearer) : undefined,
  };
  if (!credentials.bearerToken && !(credentials.certData && credentials.keyData)) {
    throw new CredentialError(
      `kubeconfig ${path}: the current user has neither a client certificate and key nor a token`,
    );
  }
  return credentials;
}

async function fromServiceAccount(source: Extract<CredentialSource, { kind: 'in-cluster' }>): Promise<MemberCredentials> {
  const { serviceHost, servicePort, serviceAccountDir } = source;
  if (!serviceHost || !servicePort) {
    throw new CredentialError(
      'not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; pass --kubeconfig',
    );
  }
  const hostPort = normalizeHostPort(serviceHost.includes(':') ? `[${serviceHost}]:${servicePort}` : `${serviceHost}:${servicePort}`);
  if (!hostPort) throw new CredentialError('KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT do not form a host:port');
  const [token, ca] = await Promise.all([
    readServiceAccountFile(serviceAccountDir, 'token'),
    readServiceAccountFile(serviceAccountDir, 'ca.crt'),
  ]);
  const trimmed = token.toString('utf8').trim();
  if (!trimmed) throw new CredentialError(`service-account token ${join(serviceAccountDir, 'token')} is empty`);
  return { kubernetesSvcHost: hostPort, caData: ca, bearerToken: Buffer.from(trimmed) };
}

async function readServiceAccountFile(dir: string, name: string): Promise<Buffer> {
  const path = join(dir, name);
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new CredentialError(`cannot read service-account file ${path} (${code}); pass --kubeconfig outside a cluster`);
  }
}

function nonEmpty(value: Buffer | undefined): Buffer | undefined {
  return value?.length ? value : undefined;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? '';
}
