/**
 * Plain-HTTP stand-in for ks-apiserver on 127.0.0.1: reads and drops any request body,
 * then answers with the path and the Authorization header it saw. close() ends the
 * connections still open, so it never waits on a client.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startKsStandIn(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ks: true, path: req.url, authorization: req.headers.authorization ?? null })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
