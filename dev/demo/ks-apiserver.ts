/**
 * A stand-in for the member's ks-apiserver (KubeSphere's API server), so that the proxy's
 * ks listener answers in the demo instead of a 502. It is no KubeSphere: it answers
 * `GET /kapis/version` like ks-apiserver's version endpoint, `/healthz`, and a 404 Status
 * for anything else, and says in every answer that it is the demo's stand-in.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KsApiserver {
  readonly port: number;
  close(): Promise<void>;
}

const VERSION = {
  gitVersion: 'v4.1.0-tower-demo',
  gitMajor: '4',
  gitMinor: '1',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
  kubernetes: { gitVersion: 'v1.32.2' },
  standIn: 'the tower demo\'s ks-apiserver stand-in, not KubeSphere',
};

export async function startKsApiserver(host = '127.0.0.1'): Promise<KsApiserver> {
  const server: Server = createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    if (req.method === 'GET' && path === '/kapis/version') return json(200, VERSION);
    if (req.method === 'GET' && path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    json(404, {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: `${path} is not served by the tower demo's ks-apiserver stand-in (only /kapis/version and /healthz)`,
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
