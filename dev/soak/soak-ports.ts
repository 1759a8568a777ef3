/**
 * Free ports on 127.0.0.1 for the proxy and the clusters' listeners, below the ephemeral
 * range so the run's own outgoing connections do not take them meanwhile.
 */
import { createServer } from 'node:net';

const PORT_LOW = 20_000;
const PORT_HIGH = 32_000;

export async function freePorts(n: number, random: () => number): Promise<number[]> {
  const found: number[] = [];
  let cursor = PORT_LOW + Math.floor(random() * (PORT_HIGH - PORT_LOW));
  for (let tries = 0; found.length < n && tries < PORT_HIGH - PORT_LOW; tries++) {
    cursor = cursor + 1 >= PORT_HIGH ? PORT_LOW : cursor + 1;
    if (await portFree(cursor)) found.push(cursor);
  }
  if (found.length < n) throw new Error(`only ${found.length} of ${n} free ports in ${PORT_LOW}-${PORT_HIGH} on 127.0.0.1`);
  return found;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
