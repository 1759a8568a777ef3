/** Free TCP ports on an address, within a range (the proxy's --port takes 1024-49151). */
import { createServer } from 'node:net';

/** True when nothing listens on host:port right now. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A port that was free a moment ago in [min, max], tried in random order. Outside the
 * Linux ephemeral range by default, and away from the cluster ports (6000-7000, 16000-17000).
 */
export async function pickFreePort(host = '127.0.0.1', min = 20_000, max = 32_000, attempts = 200): Promise<number> {
  for (let i = 0; i < attempts; i += 1) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (await isPortFree(host, port)) return port;
  }
  throw new Error(`no free port found on ${host} in ${min}-${max}`);
}
