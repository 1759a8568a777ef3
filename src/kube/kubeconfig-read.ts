/**
 * Kubeconfig files read as kubectl reads them, without @kubernetes/client-node (whose
 * KubeConfig alone costs ~60 MB of RSS): the current context's cluster and user, from one
 * file or from $KUBECONFIG's list merged (the first file that names an entry or sets
 * current-context wins; missing files in the list are skipped), with relative paths
 * resolved against the file that holds them; or in-cluster from the service account.
 * Only the current context's entries are checked, as kubectl does.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { isIPv6 } from 'node:net';
import { parse } from 'yaml';
import { DEFAULT_SERVICE_ACCOUNT_DIR } from './service-account.js';

/** A kubeconfig (or in-cluster config) that cannot be used; one line, never a secret. */
export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

export interface KubeconfigCluster {
  readonly server: URL;
  readonly caFile?: string;
  readonly caData?: Buffer;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
  /** Served by @kubernetes/client-node's proxy agents (see kube-access.ts). */
  readonly proxyUrl?: string;
}

export interface Impersonation {
  readonly user?: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

export interface KubeconfigUser {
  readonly certFile?: string;
  readonly certData?: Buffer;
  readonly keyFile?: string;
  readonly keyData?: Buffer;
  readonly token?: string;
  /** Read again every minute, so a rotated token is picked up. */
  readonly tokenFile?: string;
  readonly username?: string;
  readonly password?: string;
  readonly impersonate?: Impersonation;
  /** Credential plugins: kept as written, for @kubernetes/client-node (see kube-access.ts). */
  readonly exec?: Readonly<Record<string, unknown>>;
  readonly authProvider?: Readonly<Record<string, unknown>>;
}

/** The current context, resolved. */
export interface KubeconfigSelection {
  /** What was read, for messages: `kubeconfig FILE`, `$KUBECONFIG (A:B)`, `in-cluster config`. */
  readonly source: string;
  readonly context: string;
  readonly clusterName: string;
  readonly cluster: KubeconfigCluster;
  readonly userName?: string;
  readonly user: KubeconfigUser;
}

type Fields = Readonly<Record<string, unknown>>;
/** A named entry with the directory of the file it came from. */
interface Entry {
  readonly fields: Fields;
  readonly dir: string;
}
interface KubeconfigDocument {
  readonly clusters: Map<string, Entry>;
  readonly users: Map<string, Entry>;
  readonly contexts: Map<string, Entry>;
  readonly currentContext?: string;
}

/** `--kubeconfig FILE`. */
export function readKubeconfigFile(path: string): KubeconfigSelection {
  const source = `kubeconfig ${path}`;
  const text = readText(path, source);
  if (text === undefined) throw new KubeconfigError(`cannot read ${source}: file not found`);
  return select(parseDocument(text, dirname(resolve(path)), source), source);
}

/** Kubeconfig text; relative paths in it are relative to `dir`. */
export function readKubeconfigText(text: string, dir = process.cwd(), source = 'kubeconfig'): KubeconfigSelection {
  return select(parseDocument(text, dir, source), source);
}

/** What kubectl reads without `--kubeconfig`: $KUBECONFIG's files merged, else ~/.kube/config. */
export function readDefaultKubeconfig(env: NodeJS.ProcessEnv = process.env, home = homedir()): KubeconfigSelection {
  const list = env['KUBECONFIG'];
  if (!list) {
    const path = join(home, '.kube', 'config');
    const text = readText(path, `kubeconfig ${path}`);
    if (text === undefined) throw new KubeconfigError(`no kubeconfig: KUBECONFIG is not set and ${path} does not exist`);
    return select(parseDocument(text, dirname(resolve(path)), `kubeconfig ${path}`), `kubeconfig ${path}`);
  }
  const files = [...new Set(list.split(delimiter).filter(Boolean))];
  const source = files.length === 1 ? `kubeconfig ${files[0]}` : `$KUBECONFIG (${files.join(delimiter)})`;
  const documents: KubeconfigDocument[] = [];
  for (const path of files) {
    const text = readText(path, `kubeconfig ${path}`);
    if (text !== undefined) documents.push(parseDocument(text, dirname(resolve(path)), `kubeconfig ${path}`));
  }
  if (documents.length === 0) throw new KubeconfigError(`no kubeconfig: no file in KUBECONFIG exists (${files.join(delimiter)})`);
  return select(merge(documents), source);
}

/**
 * In a pod: the API server from KUBERNETES_SERVICE_HOST/PORT (always HTTPS, as client-go),
 * the service account's `ca.crt`, and its `token`, read again every minute.
 */
export function inClusterSelection(
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountDir = DEFAULT_SERVICE_ACCOUNT_DIR,
): KubeconfigSelection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new KubeconfigError('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set');
  let server: URL;
  try {
    server = new URL(`https://${isIPv6(host) ? `[${host}]` : host}:${port}`);
  } catch {
    throw new KubeconfigError('in-cluster config: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT do not form a URL');
  }
  return {
    source: 'in-cluster config',
    context: 'in-cluster',
    clusterName: 'in-cluster',
    cluster: { server, caFile: join(serviceAccountDir, 'ca.crt'), insecureSkipTlsVerify: false },
    userName: 'in-cluster',
    user: { tokenFile: join(serviceAccountDir, 'token') },
  };
}

/** The file's text, or undefined when it does not exist. */
function readText(path: string, source: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new KubeconfigError(
      `cannot read ${source}: ${code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'error')}`,
    );
  }
}

function parseDocument(text: string, dir: string, source: string): KubeconfigDocument {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    // The parser's first line says where; the lines after it quote the file (secrets).
    const where = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replace(/:$/, '');
    throw new KubeconfigError(`${source} is not valid YAML: ${where}`);
  }
  if (value === null || value === undefined) value = {};
  if (!isFields(value)) throw new KubeconfigError(`${source} is not a kubeconfig (not a mapping)`);
  const currentContext = value['current-context'];
  if (currentContext !== undefined && currentContext !== null && typeof currentContext !== 'string') {
    throw new KubeconfigError(`${source}: current-context is not a string`);
  }
  return {
    clusters: namedList(value, 'clusters', 'cluster', dir, source),
    users: namedList(value, 'users', 'user', dir, source),
    contexts: namedList(value, 'contexts', 'context', dir, source),
    ...(currentContext ? { currentContext } : {}),
  };
}

function namedList(document: Fields, list: string, inner: string, dir: string, source: string): Map<string, Entry> {
  const items = document[list] ?? [];
  if (!Array.isArray(items)) throw new KubeconfigError(`${source}: ${list} is not a list`);
  const entries = new Map<string, Entry>();
  items.forEach((item: unknown, index) => {
    if (!isFields(item) || typeof item['name'] !== 'string' || !item['name']) {
      throw new KubeconfigError(`${source}: ${list}[${index}] has no name`);
    }
    const fields = item[inner] ?? {};
    if (!isFields(fields)) throw new KubeconfigError(`${source}: ${list}[${index}].${inner} is not a mapping`);
    if (entries.has(item['name'])) throw new KubeconfigError(`${source}: ${list} has "${item['name']}" twice`);
    entries.set(item['name'], { fields, dir });
  });
  return entries;
}

/** kubectl's rule: the first file to name an entry, or to set current-context, wins. */
function merge(documents: readonly KubeconfigDocument[]): KubeconfigDocument {
  const first = <K extends 'clusters' | 'users' | 'contexts'>(key: K) => {
    const merged = new Map<string, Entry>();
    for (const document of documents) for (const [name, entry] of document[key]) if (!merged.has(name)) merged.set(name, entry);
    return merged;
  };
  const currentContext = documents.find((d) => d.currentContext)?.currentContext;
  return { clusters: first('clusters'), users: first('users'), contexts: first('contexts'), ...(currentContext ? { currentContext } : {}) };
}

function select(document: KubeconfigDocument, source: string): KubeconfigSelection {
  const context = document.currentContext;
  if (document.clusters.size === 0 && document.contexts.size === 0)
    throw new KubeconfigError(`${source} is not a kubeconfig (no clusters or contexts in it)`);
  if (!context) throw new KubeconfigError(`${source}: current-context is not set`);
  const contextEntry = document.contexts.get(context);
  if (!contextEntry) throw new KubeconfigError(`${source}: current-context "${context}" is not among its contexts`);
  const clusterName = optionalString(contextEntry.fields, 'cluster', `${source}: context "${context}"`);
  if (!clusterName) throw new KubeconfigError(`${source}: context "${context}" names no cluster`);
  const clusterEntry = document.clusters.get(clusterName);
  if (!clusterEntry) throw new KubeconfigError(`${source}: context "${context}" names cluster "${clusterName}", which is not defined`);
  const userName = optionalString(contextEntry.fields, 'user', `${source}: context "${context}"`);
  const userEntry = userName ? document.users.get(userName) : undefined;
  if (userName && !userEntry) throw new KubeconfigError(`${source}: context "${context}" names user "${userName}", which is not defined`);
  return {
    source,
    context,
    clusterName,
    cluster: toCluster(clusterEntry, `${source}: cluster "${clusterName}"`),
    ...(userName ? { userName } : {}),
    user: userEntry ? toUser(userEntry, `${source}: user "${userName}"`) : {},
  };
}

function toCluster({ fields, dir }: Entry, where: string): KubeconfigCluster {
  const serverText = optionalString(fields, 'server', where);
  if (!serverText) throw new KubeconfigError(`${where} has no server`);
  let server: URL;
  try {
    server = new URL(serverText);
  } catch {
    throw new KubeconfigError(`${where}: server is not a URL`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') throw new KubeconfigError(`${where}: server is not an http(s) URL`);
  const skip = fields['insecure-skip-tls-verify'] ?? false;
  if (typeof skip !== 'boolean') throw new KubeconfigError(`${where}: insecure-skip-tls-verify is not true or false`);
  return {
    server,
    caFile: path(fields, 'certificate-authority', dir, where),
    caData: base64(fields, 'certificate-authority-data', where),
    insecureSkipTlsVerify: skip,
    tlsServerName: optionalString(fields, 'tls-server-name', where),
    proxyUrl: optionalString(fields, 'proxy-url', where),
  };
}

function toUser({ fields, dir }: Entry, where: string): KubeconfigUser {
  return {
    certFile: path(fields, 'client-certificate', dir, where),
    certData: base64(fields, 'client-certificate-data', where),
    keyFile: path(fields, 'client-key', dir, where),
    keyData: base64(fields, 'client-key-data', where),
    token: optionalString(fields, 'token', where),
    // kubectl's field is tokenFile; @kubernetes/client-node reads token-file.
    tokenFile: path(fields, 'tokenFile', dir, where) ?? path(fields, 'token-file', dir, where),
    username: optionalString(fields, 'username', where),
    password: optionalString(fields, 'password', where),
    impersonate: impersonation(fields, where),
    exec: optionalFields(fields, 'exec', where),
    authProvider: optionalFields(fields, 'auth-provider', where),
  };
}

function impersonation(fields: Fields, where: string): Impersonation | undefined {
  const user = optionalString(fields, 'as', where);
  const uid = optionalString(fields, 'as-uid', where);
  const groups = stringList(fields['as-groups'], `${where}: as-groups`);
  const extraFields = optionalFields(fields, 'as-user-extra', where) ?? {};
  const extra = Object.fromEntries(
    Object.entries(extraFields).map(([key, values]) => [key, stringList(values, `${where}: as-user-extra`)]),
  );
  if (!user && !uid && groups.length === 0 && Object.keys(extra).length === 0) return undefined;
  return { user, uid, groups, extra };
}

function optionalString(fields: Fields, key: string, where: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new KubeconfigError(`${where}: ${key} is not a string`);
  return value;
}

function optionalFields(fields: Fields, key: string, where: string): Fields | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (!isFields(value)) throw new KubeconfigError(`${where}: ${key} is not a mapping`);
  return value;
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new KubeconfigError(`${where} is not a list of strings`);
  return value;
}

function path(fields: Fields, key: string, dir: string, where: string): string | undefined {
  const value = optionalString(fields, key, where);
  return value === undefined ? undefined : resolve(dir, value);
}

/** A `*-data` field: base64, checked (Buffer.from would skip bad characters silently). */
function base64(fields: Fields, key: string, where: string): Buffer | undefined {
  const value = optionalString(fields, key, where);
  if (value === undefined) return undefined;
  const text = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new KubeconfigError(`${where}: ${key} is not base64`);
  return Buffer.from(text, 'base64');
}

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
