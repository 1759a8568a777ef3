/**
 * The devcluster itself: an HTTPS server on 127.0.0.1 that authenticates, routes
 * discovery, OpenAPI and resource requests, and never crashes on input.
 * `startDevCluster()` is the library entry point.
 */
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errors } from './types.js';
import { Registry } from './resources.js';
import { Store } from './store.js';
import { ObjectApi, now } from './objects.js';
import { Ipam } from './ipam.js';
import { Authenticator } from './auth.js';
import { makeClusterCerts } from './certs.js';
import type { KeyPairPem } from './certs.js';
import { discover } from './discovery.js';
import { openapiV3 } from './openapi.js';
import { openapiV2 } from './openapiv2.js';
import { ResourceApi, parseResourcePath } from './api.js';
import type { WatchStream } from './watch.js';
import { Controllers } from './controllers.js';
import { seed } from './seed.js';
import { buildKubeconfig, writeKubeconfig } from './kubeconfig.js';
import { readBody, sendError, sendJson } from './http.js';
import { RbacAuthorizer } from './rbac.js';
import { ServiceAccountTokens } from './sa-tokens.js';
import { impersonatedUser } from './impersonation.js';
import { forbiddenError, requestAttributes, type RequestAttributes } from './request-info.js';
import { AuditLog, type AuditRecord } from './audit.js';
import { Reviews } from './reviews.js';
import { readObject } from './api.js';
import { seedKubernetesEndpoints } from './endpoints.js';

/** Called with each authorized request before it is handled; the request waits for it. */
export type RequestHook = (request: { user: string; attributes: RequestAttributes }) => void | Promise<void>;

export interface DevClusterOptions {
  /** names the cluster: kubeconfig cluster/context and node names (default "devcluster") */
  name?: string;
  /** TCP port on 127.0.0.1; 0 (default) picks a free one */
  port?: number;
  /** how many change events watches can resume from (default 10000) */
  historySize?: number;
  /** Kubernetes version reported by /version and the nodes (default "1.32.2"); the kubectl dispatcher picks its kubectl from it */
  kubernetesVersion?: string;
  /** interval of watch bookmarks when a client allows them (default 30000 ms) */
  bookmarkIntervalMs?: number;
  /** number of seeded Nodes (default 3: one control plane, two workers) */
  nodes?: number;
  /** request log (debug level), without credentials */
  logger?: Logger;
}

export interface DevCluster {
  readonly name: string;
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly caPem: string;
  /** kubeconfig YAML authenticating with the admin client certificate */
  readonly adminKubeconfig: string;
  /** kubeconfig YAML authenticating with `adminToken` */
  readonly tokenKubeconfig: string;
  readonly adminToken: string;
  readonly adminCert: KeyPairPem;
  /** write a kubeconfig file (mode 0600); returns `path` */
  writeKubeconfig(path: string, auth?: 'cert' | 'token'): Promise<string>;
  /** accept another bearer token for `user` */
  addToken(token: string, user: string, groups?: string[]): void;
  /** a client certificate for `user` signed by the cluster CA */
  issueClientCert(user: string, groups?: string[]): Promise<KeyPairPem>;
  /** send every open watch an ERROR 410 Expired and end it; clients must relist */
  expireWatches(): void;
  /** drop the watch history: a resume from any earlier resourceVersion gets 410 */
  compactHistory(): void;
  /** how many watch streams are open */
  openWatches(): number;
  /**
   * Every authorization decision (user, verb, resource, namespace, name, allowed, and the
   * binding that allowed it), oldest first and bounded; `subscribe` sees each new one.
   */
  readonly audit: {
    records(): readonly AuditRecord[];
    subscribe(listener: (r: AuditRecord) => void): () => void;
    clear(): void;
  };
  /**
   * Run `hook` before each authorized request is handled (and wait for it): a test can
   * make a real concurrent write land just before a client's own, deterministically.
   * Returns the function that removes the hook.
   */
  beforeHandling(hook: RequestHook): () => void;
  /** end all watches and connections and close the port */
  stop(): Promise<void>;
}

function parseVersion(v: string): { major: string; minor: string; gitVersion: string } {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  if (!m) throw new Error(`devcluster: bad kubernetesVersion ${v}`);
  return { major: m[1] as string, minor: m[2] as string, gitVersion: `v${m[1]}.${m[2]}.${m[3] ?? '0'}` };
}

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

export async function startDevCluster(options: DevClusterOptions = {}): Promise<DevCluster> {
  const name = options.name ?? 'devcluster';
  const version = parseVersion(options.kubernetesVersion ?? '1.32.2');
  const log = options.logger;
  const certs = await makeClusterCerts(name);
  const registry = new Registry();
  const store = new Store(options.historySize ?? 10000);
  const objects = new ObjectApi(store, { ipam: new Ipam(), now });
  const controllers = new Controllers(store, registry, objects, certs.ca.certPem);
  const watches = new Set<WatchStream>();
  const api = new ResourceApi({ registry, objects, store, bookmarkIntervalMs: options.bookmarkIntervalMs ?? 30000, watches });
  const saTokens = new ServiceAccountTokens();
  const uidOf = (namespace: string, name: string): string | undefined => store.get('/serviceaccounts', namespace, name)?.metadata.uid;
  const auth = new Authenticator((token) => saTokens.authenticate(token, uidOf));
  const authorizer = new RbacAuthorizer(store);
  const audit = new AuditLog();
  const hooks = new Set<RequestHook>();
  const reviews = new Reviews({
    authorizer,
    tokens: saTokens,
    authenticateToken: (token) => auth.authenticateToken(token),
    serviceAccount: (namespace, saName) => {
      const sa = store.get('/serviceaccounts', namespace, saName);
      if (!sa) throw errors.notFound('', 'serviceaccounts', saName);
      return sa;
    },
  });
  const adminToken = randomBytes(24).toString('base64url');
  auth.addToken(adminToken, { name: 'admin', groups: ['system:masters', 'system:authenticated'] });
  seed(objects, registry, name, options.nodes ?? 3, version.gitVersion);
  controllers.reconcile();

  let serverAddress = '127.0.0.1:0';
  const versionInfo = {
    major: version.major,
    minor: version.minor,
    gitVersion: version.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.6',
    compiler: 'gc',
    platform: 'linux/amd64',
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://devcluster.invalid');
    } catch {
      throw errors.badRequest('malformed request URL');
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (PUBLIC_PATHS.has(path)) {
      if (path === '/version') return sendJson(res, 200, versionInfo);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    // Read the whole body first: answering before it is consumed would reset the connection.
    const body = await readBody(req);
    const authenticated = auth.authenticate(req);
    if (!authenticated) throw errors.unauthorized();
    const user = impersonatedUser(req, authenticated, (u, a) => authorizer.authorize(u, a));
    const attributes = requestAttributes(req.method ?? 'GET', path, url.searchParams);
    const decision = authorizer.authorize(user, attributes);
    audit.add({
      user: user.name,
      groups: [...user.groups],
      attributes,
      allowed: decision.allowed,
      reason: decision.reason,
      time: Date.now(),
    });
    if (!decision.allowed) {
      const error = forbiddenError(user.name, attributes);
      log?.info({ user: user.name, verb: attributes.verb, path }, error.message);
      throw error;
    }
    log?.debug({ method: req.method, path, user: user.name }, 'request');
    for (const hook of [...hooks]) await hook({ user: user.name, attributes });
    const accept = req.headers.accept ?? '';
    if (req.method === 'GET') {
      const d = discover(path, accept, registry, serverAddress);
      if (d) return sendJson(res, 200, d.body, d.contentType);
      if (path.startsWith('/openapi/v3')) {
        const doc = openapiV3(path, registry, version.gitVersion);
        if (doc) return sendJson(res, 200, doc);
        throw errors.pathNotFound();
      }
      if (path === '/openapi/v2') {
        const body = openapiV2(registry, version.gitVersion);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
        res.end(body);
        return;
      }
    }
    const p = parseResourcePath(path, registry);
    if (!p) throw errors.pathNotFound();
    if (Reviews.handles(p.type, p.subresource)) {
      if (req.method !== 'POST') throw errors.methodNotAllowed(req.method ?? '');
      return sendJson(res, 201, reviews.create(p.type, p.namespace, p.name, readObject(req, body), user));
    }
    api.handle(req, res, p, url.searchParams, body);
  }

  const server: Server = createServer(
    { key: certs.server.keyPem, cert: certs.server.certPem, ca: certs.ca.certPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      route(req, res).catch((err: unknown) => {
        if (!(err instanceof Error && 'code' in err && typeof err.code === 'number')) log?.warn({ err }, 'request failed');
        if (res.headersSent) res.destroy();
        else sendError(res, err);
      });
    },
  );
  // Unparseable HTTP: answer 400 if the socket can still take it, as Node's default does.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `127.0.0.1:${port}`;
  seedKubernetesEndpoints(objects, registry, '127.0.0.1', port);
  const url = `https://127.0.0.1:${port}`;
  const adminKubeconfig = buildKubeconfig({
    name,
    server: url,
    caPem: certs.ca.certPem,
    userName: `${name}-admin`,
    user: { clientCertPem: certs.admin.certPem, clientKeyPem: certs.admin.keyPem },
  });
  const tokenKubeconfig = buildKubeconfig({
    name,
    server: url,
    caPem: certs.ca.certPem,
    userName: `${name}-token`,
    user: { token: adminToken },
  });
  log?.info({ url, cluster: name }, 'devcluster listening');

  let stopping: Promise<void> | undefined;
  return {
    name,
    url,
    port,
    caPem: certs.ca.certPem,
    adminKubeconfig,
    tokenKubeconfig,
    adminToken,
    adminCert: certs.admin,
    async writeKubeconfig(path, kind = 'cert') {
      await writeKubeconfig(path, kind === 'token' ? tokenKubeconfig : adminKubeconfig);
      return path;
    },
    addToken(token, user, groups = []) {
      auth.addToken(token, { name: user, groups: [...groups, 'system:authenticated'] });
    },
    issueClientCert(user, groups = []) {
      return certs.issueClient(user, groups);
    },
    expireWatches() {
      for (const w of [...watches]) w.expire();
    },
    compactHistory() {
      store.compact();
    },
    openWatches() {
      return watches.size;
    },
    audit: {
      records: () => audit.records(),
      subscribe: (listener) => audit.subscribe(listener),
      clear: () => audit.clear(),
    },
    beforeHandling(hook) {
      hooks.add(hook);
      return () => hooks.delete(hook);
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        controllers.stop();
        for (const w of [...watches]) w.end();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
