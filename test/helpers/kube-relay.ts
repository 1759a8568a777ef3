/**
 * A plain-HTTP relay on 127.0.0.1 in front of a devcluster's API, for a proxy under test:
 * it forwards every request with the devcluster's admin token, streams responses (watches
 * included), records what passed, and lets a test act just before a request is forwarded
 * (e.g. write the same object first, so that the forwarded update meets a real Conflict).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { DevCluster } from '../../devcluster/index.js';

export interface RelayedRequest {
  readonly method: string;
  readonly path: string;
  /** Upstream status; 0 while the response has not started. */
  status: number;
}

/** Called with each request before it is forwarded; may await (the request waits). */
export type BeforeForward = (method: string, path: string, body: Buffer) => void | Promise<void>;

export interface KubeRelay {
  readonly url: string;
  /** Kubeconfig YAML pointing at the relay (no credentials: the relay adds them). */
  readonly kubeconfig: string;
  readonly requests: readonly RelayedRequest[];
  beforeForward: BeforeForward | undefined;
  close(): Promise<void>;
}

export async function startKubeRelay(target: DevCluster): Promise<KubeRelay> {
  const upstream = new URL(target.url);
  const requests: RelayedRequest[] = [];
  const sockets = new Set<Socket>();
  const relay: { beforeForward: BeforeForward | undefined } = { beforeForward: undefined };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void forward(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    try {
      await relay.beforeForward?.(method, path, body);
    } catch (error) {
      res.writeHead(500).end(String(error));
      return;
    }
    const record: RelayedRequest = { method, path, status: 0 };
    requests.push(record);
    const headers = { ...req.headers, authorization: `Bearer ${target.adminToken}`, host: upstream.host };
    const up = httpsRequest(
      { host: upstream.hostname, port: upstream.port, method, path, headers, ca: target.caPem, agent: false },
      (upRes) => {
        record.status = upRes.statusCode ?? 0;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502).end(error.message);
      else res.destroy();
    });
    res.on('close', () => up.destroy());
    up.end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: relay',
    // client-node refuses a plain-http server unless TLS verification is "skipped" (there is no TLS).
    `    cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
    'users:',
    '  - name: relay',
    '    user: {}',
    'contexts:',
    '  - name: relay',
    '    context: { cluster: relay, user: relay }',
    'current-context: relay',
    '',
  ].join('\n');

  return {
    url,
    kubeconfig,
    requests,
    get beforeForward() {
      return relay.beforeForward;
    },
    set beforeForward(hook: BeforeForward | undefined) {
      relay.beforeForward = hook;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
