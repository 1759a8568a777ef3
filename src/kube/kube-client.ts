/**
 * A small JSON client for the Kubernetes API: credentials and TLS from
 * @kubernetes/client-node's KubeConfig (kubeconfig file, in-cluster or default), requests
 * over node:https so status codes, content types and streaming stay in our hands.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export type KubeconfigSource = { readonly path: string } | { readonly inCluster: true } | { readonly default: true };

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
  private constructor(private readonly config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster; set current-context');
    this.server = new URL(cluster.server);
  }

  static load(source: KubeconfigSource): KubeClient {
    const config = new KubeConfig();
    try {
      if ('path' in source) config.loadFromFile(source.path);
      else if ('inCluster' in source) config.loadFromCluster();
      else config.loadFromDefault();
    } catch (error) {
      const where = 'path' in source ? `kubeconfig ${source.path}` : 'in-cluster' in source ? 'in-cluster config' : 'default kubeconfig';
      throw new Error(`cannot load ${where}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
    }
    return new KubeClient(config);
  }

  static fromString(yaml: string): KubeClient {
    const config = new KubeConfig();
    config.loadFromString(yaml);
    return new KubeClient(config);
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
    const options: RequestOptions = {
      method: req.method,
      host: this.server.hostname.replace(/^\[|\]$/g, ''),
      port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80),
      path: `${this.server.pathname.replace(/\/$/, '')}${req.path}`,
      headers: { accept: 'application/json' },
      agent: false,
    };
    await this.config.applyToHTTPSOptions(options);
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    if (body) {
      (options.headers as Record<string, string>)['content-type'] =
        req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    }
    const send = this.server.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = send(options, resolve);
      r.on('error', (error) => reject(new KubeError(0, 'ConnectionFailed', `${req.method} ${req.path}: ${error.message}`)));
      r.end(body);
    });
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
