import { createServer } from 'node:net';

/**
 * Ports already handed out by this process. The kernel may give a port it just released to
 * the next listen(0), so two calls in a row could name the same port for two listeners
 * (seen in CI: two clusters of one file got the same port, and the proxy refused the file).
 */
const handedOut = new Set<number>();

/** A port that was free on 127.0.0.1 a moment ago (for files that must name ports up front). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await listenAndRelease();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('freePort: 100 ports in a row were ones this process had handed out already');
}

function listenAndRelease(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
