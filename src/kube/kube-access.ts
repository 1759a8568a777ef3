/**
 * The TLS material and headers a request to a kube-apiserver needs, from a resolved
 * kubeconfig (kubeconfig-read.ts). Files named by the kubeconfig (CA, client certificate
 * and key, token) are read when the access is opened — a missing one is an error then —
 * and read again at most once a minute, so rotated credentials are picked up as client-go
 * does; while a file is unchanged the same Buffer comes back (callers may cache on it).
 * Credential plugins (`exec`, `auth-provider`) and `proxy-url` are served by
 * @kubernetes/client-node, imported only for such a kubeconfig.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Agent } from 'node:http';
import { KubeconfigError, type KubeconfigSelection } from './kubeconfig-read.js';

export interface KubeCredentials {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
  /** `Authorization` and `Impersonate-*`. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** The agent @kubernetes/client-node made for a cluster with a `proxy-url`. */
  readonly agent?: Agent;
}

export interface KubeAccess {
  readonly server: URL;
  /** Names the kubeconfig in messages. */
  readonly source: string;
  credentials(): Promise<KubeCredentials>;
}

/** How long a credential file is trusted before it is read again (client-go: one minute). */
export const REREAD_MS = 60_000;

/** Open access for a resolved kubeconfig; throws a one-line KubeconfigError when a file it names cannot be read. */
export function openKubeAccess(selection: KubeconfigSelection, options: { readonly now?: () => number } = {}): KubeAccess {
  const { user, cluster } = selection;
  if (user.exec || user.authProvider || cluster.proxyUrl) return new ClientNodeAccess(selection);
  return new FileAccess(selection, options.now ?? Date.now);
}

/** A file read now, and again on use once REREAD_MS have passed; a failed re-read keeps the last content. */
class RereadFile {
  #content: Buffer;
  #readAt = Date.now();
  #reading: Promise<Buffer> | undefined;

  constructor(
    private readonly path: string,
    what: string,
    private readonly now: () => number,
  ) {
    try {
      this.#content = readFileSync(path);
    } catch (error) {
      throw new KubeconfigError(`${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    this.#readAt = now();
  }

  current(): Promise<Buffer> {
    if (this.now() - this.#readAt < REREAD_MS) return Promise.resolve(this.#content);
    this.#reading ??= readFile(this.path)
      .then(
        (fresh) => {
          if (!fresh.equals(this.#content)) this.#content = fresh;
        },
        () => {},
      )
      .then(() => {
        this.#readAt = this.now();
        this.#reading = undefined;
        return this.#content;
      });
    return this.#reading;
  }
}

class FileAccess implements KubeAccess {
  readonly server: URL;
  readonly source: string;
  readonly #fixed: { ca?: Buffer; cert?: Buffer; key?: Buffer; token?: string };
  readonly #files: { ca?: RereadFile; cert?: RereadFile; key?: RereadFile; token?: RereadFile };
  readonly #headers: Record<string, string | readonly string[]>;

  constructor(
    private readonly selection: KubeconfigSelection,
    now: () => number,
  ) {
    const { cluster, user, source } = selection;
    this.server = cluster.server;
    this.source = source;
    const userWhere = `${source}: user "${selection.userName}"`;
    const file = (path: string | undefined, what: string) => (path === undefined ? undefined : new RereadFile(path, what, now));
    // kubectl: *-data overrides the file; a token file overrides the token.
    this.#fixed = { ca: cluster.caData, cert: user.certData, key: user.keyData, token: user.tokenFile ? undefined : user.token };
    this.#files = {
      ca: cluster.caData ? undefined : file(cluster.caFile, `${source}: cluster "${selection.clusterName}" certificate-authority`),
      cert: user.certData ? undefined : file(user.certFile, `${userWhere} client-certificate`),
      key: user.keyData ? undefined : file(user.keyFile, `${userWhere} client-key`),
      token: file(user.tokenFile, `${userWhere} token file`),
    };
    if (Boolean(user.certData ?? user.certFile) !== Boolean(user.keyData ?? user.keyFile)) {
      throw new KubeconfigError(`${userWhere} has a client certificate without a key or a key without a certificate`);
    }
    this.#headers = impersonationHeaders(selection);
    if (user.username !== undefined || user.password !== undefined) {
      this.#headers['Authorization'] = `Basic ${Buffer.from(`${user.username ?? ''}:${user.password ?? ''}`).toString('base64')}`;
    }
  }

  async credentials(): Promise<KubeCredentials> {
    const { cluster } = this.selection;
    const [ca, cert, key, tokenFile] = await Promise.all([
      this.#files.ca?.current(),
      this.#files.cert?.current(),
      this.#files.key?.current(),
      this.#files.token?.current(),
    ]);
    const token = tokenFile ? tokenFile.toString('utf8').trim() : this.#fixed.token;
    const headers = token ? { ...this.#headers, Authorization: `Bearer ${token}` } : this.#headers;
    return {
      ca: ca ?? this.#fixed.ca,
      cert: cert ?? this.#fixed.cert,
      key: key ?? this.#fixed.key,
      rejectUnauthorized: !cluster.insecureSkipTlsVerify,
      servername: cluster.tlsServerName,
      headers,
    };
  }
}

function impersonationHeaders({ user }: KubeconfigSelection): Record<string, string | readonly string[]> {
  const as = user.impersonate;
  if (!as) return {};
  const headers: Record<string, string | readonly string[]> = {};
  if (as.user) headers['Impersonate-User'] = as.user;
  if (as.uid) headers['Impersonate-Uid'] = as.uid;
  if (as.groups.length > 0) headers['Impersonate-Group'] = as.groups;
  for (const [key, values] of Object.entries(as.extra)) headers[`Impersonate-Extra-${encodeURIComponent(key)}`] = values;
  return headers;
}

type ClientNode = typeof import('@kubernetes/client-node');
type ClientNodeConfig = InstanceType<ClientNode['KubeConfig']>;

/** `exec`, `auth-provider` and `proxy-url` kubeconfigs: @kubernetes/client-node, loaded on first use. */
class ClientNodeAccess implements KubeAccess {
  readonly server: URL;
  readonly source: string;
  #config: Promise<ClientNodeConfig> | undefined;

  constructor(private readonly selection: KubeconfigSelection) {
    this.server = selection.cluster.server;
    this.source = selection.source;
  }

  async credentials(): Promise<KubeCredentials> {
    const config = await (this.#config ??= this.#load());
    const options: import('node:https').RequestOptions = {};
    try {
      await config.applyToHTTPSOptions(options);
    } catch (error) {
      throw new KubeconfigError(`${this.source}: user "${this.selection.userName}": ${firstLine(error)}`);
    }
    const { Authorization, ...rest } = (options.headers ?? {}) as Record<string, string | string[]>;
    return {
      ca: toBuffer(options.ca),
      cert: toBuffer(options.cert),
      key: toBuffer(options.key),
      rejectUnauthorized: options.rejectUnauthorized !== false,
      servername: options.servername ?? undefined,
      headers: { ...rest, ...impersonationHeaders(this.selection), ...(Authorization ? { Authorization } : {}) },
      // client-node makes an agent for every call; only a proxy-url one is needed.
      agent: this.selection.cluster.proxyUrl ? (options.agent as Agent) : undefined,
    };
  }

  async #load(): Promise<ClientNodeConfig> {
    try {
      return await this.#configFor((await import('@kubernetes/client-node')).KubeConfig);
    } catch (error) {
      throw new KubeconfigError(`${this.source}: user "${this.selection.userName}": ${firstLine(error)}`);
    }
  }

  #configFor(KubeConfig: ClientNode['KubeConfig']): ClientNodeConfig {
    const { cluster, user, clusterName, context } = this.selection;
    const userName = this.selection.userName ?? 'user';
    const b64 = (data: Buffer | undefined) => data?.toString('base64');
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [
        {
          name: clusterName,
          server: cluster.server.href.replace(/\/$/, ''),
          caData: b64(cluster.caData),
          caFile: cluster.caFile,
          skipTLSVerify: cluster.insecureSkipTlsVerify,
          tlsServerName: cluster.tlsServerName,
          proxyUrl: cluster.proxyUrl,
        },
      ],
      users: [
        {
          name: userName,
          certData: b64(user.certData),
          certFile: user.certFile,
          keyData: b64(user.keyData),
          keyFile: user.keyFile,
          token: user.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : user.token,
          username: user.username,
          password: user.password,
          exec: user.exec,
          authProvider: user.authProvider,
        },
      ],
      contexts: [{ name: context, cluster: clusterName, user: userName }],
      currentContext: context,
    });
    return config;
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
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

