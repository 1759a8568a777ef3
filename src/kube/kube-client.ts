/**
 * A small JSON client for the Kubernetes API: credentials and TLS from a kubeconfig file,
 * the in-cluster service account or the default kubeconfig (kubeconfig-read.ts,
 * kube-access.ts), requests over node:https so status codes, content types and streaming
 * stay in our hands.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { openKubeAccess, type KubeAccess, type KubeCredentials } from './kube-access.js';
import { inClusterSelection, readDefaultKubeconfig, readKubeconfigFile, readKubeconfigText } from './kubeconfig-read.js';

export type KubeconfigSource =
  | { readonly path: string }
  | { readonly inCluster: true; /** default /var/run/secrets/kubernetes.io/serviceaccount */ readonly serviceAccountDir?: string }
  | { readonly default: true };

/** A Kubernetes API answer that was not 2xx, with the Status it carried. */
export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  /** For PATCH: merge-patch by default. */
  readonly contentType?: string;
}

export class KubeClient {
  readonly server: URL;
  /** The TLS context of the last request, kept while the CA and client certificate stay the same. */
  #tls: { readonly credentials: KubeCredentials; readonly context: SecureContext } | undefined;

  private constructor(private readonly access: KubeAccess) {
    this.server = access.server;
  }

  /** Throws a one-line error naming the kubeconfig (never its secrets) when it cannot be used. */
  static load(source: KubeconfigSource): KubeClient {
    const selection =
      'path' in source
        ? readKubeconfigFile(source.path)
        : 'inCluster' in source
          ? inClusterSelection(process.env, source.serviceAccountDir)
          : readDefaultKubeconfig();
    return new KubeClient(openKubeAccess(selection));
  }

  /** A client for an access already opened (tests: a fake clock, a selection built by hand). */
  static fromAccess(access: KubeAccess): KubeClient {
    return new KubeClient(access);
  }

  /** Kubeconfig text; relative paths in it are relative to the working directory. */
  static fromString(yaml: string): KubeClient {
    return new KubeClient(openKubeAccess(readKubeconfigText(yaml)));
  }

  /** JSON request; resolves with the parsed body, rejects with KubeError on non-2xx. */
  async json<T = unknown>(req: KubeRequest): Promise<T> {
    const res = await this.#send(req);
    const text = await readBody(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw toKubeError(status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A streaming GET (watch). The caller reads and destroys the response. */
  async stream(path: string): Promise<IncomingMessage> {
    const res = await this.#send({ method: 'GET', path });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw toKubeError(status, await readBody(res));
    return res;
  }

  async #send(req: KubeRequest): Promise<IncomingMessage> {
    const credentials = await this.access.credentials();
    const headers: Record<string, string | readonly string[]> = { ...credentials.headers, accept: 'application/json' };
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    if (body) headers['content-type'] = req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    // tls.connect takes a ready secureContext; https's option type does not list it.
    const options: RequestOptions & { secureContext: SecureContext } = {
      method: req.method,
      host: this.server.hostname.replace(/^\[|\]$/g, ''),
      port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80),
      path: `${this.server.pathname.replace(/\/$/, '')}${req.path}`,
      headers: headers as RequestOptions['headers'],
      agent: credentials.agent ?? false,
      secureContext: this.#secureContext(credentials),
      rejectUnauthorized: credentials.rejectUnauthorized,
      ...(credentials.servername ? { servername: credentials.servername } : {}),
    };
    const send = this.server.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = send(options, resolve);
      r.on('error', (error) => reject(new KubeError(0, 'ConnectionFailed', `${req.method} ${req.path}: ${error.message}`)));
      r.end(body);
    });
  }

  /** Parsing the CA and key once, not per request; a rotated file gives new Buffers, hence a new context. */
  #secureContext(credentials: KubeCredentials): SecureContext {
    const last = this.#tls?.credentials;
    if (this.#tls && last?.ca === credentials.ca && last?.cert === credentials.cert && last?.key === credentials.key) return this.#tls.context;
    const context = createSecureContext({
      ...(credentials.ca ? { ca: credentials.ca } : {}),
      ...(credentials.cert && credentials.key ? { cert: credentials.cert, key: credentials.key } : {}),
    });
    this.#tls = { credentials, context };
    return context;
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function toKubeError(code: number, text: string): KubeError {
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeError(code, status.reason ?? 'Unknown', status.message ?? `HTTP ${code}`);
  } catch {
    return new KubeError(code, 'Unknown', `HTTP ${code}`);
  }
}
