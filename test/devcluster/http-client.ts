/** A bare HTTPS client for protocol-level tests of the devcluster (no kubectl, no client-node). */
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { DevCluster } from '../../devcluster/index.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}

export type Auth = 'token' | 'cert' | 'none' | 'bad-token';

export interface RequestOptions {
  body?: string | Buffer;
  contentType?: string;
  accept?: string;
  auth?: Auth;
}

function options(cluster: DevCluster, method: string, path: string, o: RequestOptions) {
  const headers: Record<string, string | number> = {};
  if (o.contentType) headers['Content-Type'] = o.contentType;
  if (o.accept) headers['Accept'] = o.accept;
  const auth = o.auth ?? 'token';
  if (auth === 'token') headers['Authorization'] = `Bearer ${cluster.adminToken}`;
  if (auth === 'bad-token') headers['Authorization'] = 'Bearer not-a-token';
  return {
    host: '127.0.0.1',
    port: cluster.port,
    method,
    path,
    headers,
    ca: cluster.caPem,
    agent: false as const,
    ...(auth === 'cert' ? { cert: cluster.adminCert.certPem, key: cluster.adminCert.keyPem } : {}),
  };
}

export function call(cluster: DevCluster, method: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(options(cluster, method, path, o), (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface WatchEvent {
  type: string;
  object: { kind?: string; code?: number; reason?: string; metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> }; [k: string]: unknown };
}

/** An open watch: its events as they arrive, and whether the server ended it. */
export class WatchClient {
  readonly events: WatchEvent[] = [];
  status = 0;
  headers: IncomingHttpHeaders = {};
  ended = false;
  private buffer = '';
  private readonly waiters = new Set<() => void>();
  private readonly req: ReturnType<typeof httpsRequest>;

  constructor(cluster: DevCluster, path: string, o: RequestOptions = {}) {
    this.req = httpsRequest(options(cluster, 'GET', path, o), (res) => {
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      this.notify();
      res.on('data', (c: Buffer) => {
        this.buffer += c.toString('utf8');
        let nl: number;
        while ((nl = this.buffer.indexOf('\n')) >= 0) {
          const line = this.buffer.slice(0, nl);
          this.buffer = this.buffer.slice(nl + 1);
          if (line.trim()) this.events.push(JSON.parse(line) as WatchEvent);
        }
        this.notify();
      });
      res.on('end', () => {
        this.ended = true;
        this.notify();
      });
      res.on('error', () => undefined);
    });
    this.req.on('error', () => {
      this.ended = true;
      this.notify();
    });
    this.req.end();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolve once `check` holds (re-evaluated on every byte from the server); bounded by a timeout. */
  until(check: (w: WatchClient) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = (): void => {
        if (check(this)) finish();
      };
      const timer = setTimeout(() => finish(new Error(`watch: timed out waiting for ${what}; events: ${JSON.stringify(this.events.map((e) => e.type))}`)), timeoutMs);
      const finish = (e?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(test);
        if (e) reject(e);
        else resolve();
      };
      this.waiters.add(test);
      test();
    });
  }

  close(): void {
    this.req.destroy();
  }
}
