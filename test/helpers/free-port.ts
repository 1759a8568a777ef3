import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports already handed out by this process. The kernel may give a port it just released to
 * the next listen(0), so two calls in a row could name the same port for two listeners
 * (seen in CI: two clusters of one file got the same port, and the proxy refused the file).
 */
const handedOut = new Set<number>();

/** Below the kernel's ephemeral range; well clear of the ports services usually take. */
const LOWEST = 10_000;

/**
 * A port that was free on 127.0.0.1 a moment ago (for files that must name ports up front).
 *
 * Taken below the kernel's ephemeral range where there is room: a port from that range,
 * once released, can become the source port of any outgoing connection on the machine, and
 * with the whole suite running a proxy then found "its" port taken and kept retrying the
 * bind (seen: a fixture's listeners never came up within 10 s).
 */
export async function freePort(): Promise<number> {
  const below = (ephemeralLowest ??= ephemeralLow());
  for (let attempt = 0; attempt < 100; attempt++) {
    const wanted = below - LOWEST > 1000 ? LOWEST + Math.floor(Math.random() * (below - LOWEST)) : 0;
    const port = await listenAndRelease(wanted).catch(() => undefined);
    if (port === undefined || handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('freePort: no free port in 100 attempts');
}

/** Read once: the range does not change while the tests run. */
let ephemeralLowest: number | undefined;

/** The first port of the kernel's ephemeral range (Linux), or LOWEST where unknown: then listen(0). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST ? low : LOWEST;
  } catch {
    return LOWEST;
  }
}

function listenAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}
