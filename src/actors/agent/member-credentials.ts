/**
 * How the agent reaches its own kube-apiserver, and the credentials the proxy will use
 * there: from a kubeconfig, or in-cluster from the service-account files. Read anew at
 * every connection, so a rotated token or certificate is picked up on reconnect.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
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

export const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A problem the user can fix; the message is one line and names no secret. */
export class CredentialError extends Error {
  override name = 'CredentialError';
}

export async function loadMemberCredentials(source: CredentialSource): Promise<MemberCredentials> {
  return source.kind === 'kubeconfig' ? fromKubeconfig(source.path) : fromServiceAccount(source);
}

async function fromKubeconfig(path: string): Promise<MemberCredentials> {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (error) {
    throw new CredentialError(`cannot read kubeconfig ${path}: ${firstLine(error)}`);
  }
  if (kc.getClusters().length === 0 && kc.getContexts().length === 0) {
    throw new CredentialError(`${path} is not a kubeconfig (no clusters or contexts in it); pass the member cluster's kubeconfig`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CredentialError(`kubeconfig ${path} has no current cluster; set current-context`);
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw new CredentialError(`kubeconfig ${path}: cluster server is not a URL`);
  }
  const hostPort = normalizeHostPort(server.host, server.protocol === 'http:' ? 80 : DEFAULT_KUBERNETES_PORT);
  if (!hostPort) throw new CredentialError(`kubeconfig ${path}: cluster server has no usable host`);
  const options: RequestOptions = {};
  try {
    await kc.applyToHTTPSOptions(options);
  } catch (error) {
    throw new CredentialError(`kubeconfig ${path}: cannot load credentials: ${firstLine(error)}`);
  }
  const auth = (options.headers as Record<string, string> | undefined)?.['Authorization'];
  const bearer = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
  const credentials: MemberCredentials = {
    kubernetesSvcHost: hostPort,
    caData: toBuffer(options.ca),
    certData: toBuffer(options.cert),
    keyData: toBuffer(options.key),
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

function toBuffer(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.length ? value : undefined;
  if (typeof value === 'string') return value.length ? Buffer.from(value) : undefined;
  if (Array.isArray(value) && value.length) return toBuffer(value[0]);
  return undefined;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? '';
}
