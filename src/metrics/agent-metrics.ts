/** The agent's Prometheus metrics, served on `--metrics-port` at `GET /metrics`. */
import { createServer, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { exposition } from './process-metrics.js';

export interface AgentState {
  connected(): boolean;
  failures(): number;
  channelsOpen(): number;
}

export function agentRegistry(state: AgentState): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('tower_agent_connected', '1 while the agent is connected to the proxy.', () => (state.connected() ? 1 : 0));
  gauge('tower_agent_consecutive_failures', 'Failed connection attempts since the last success.', () => state.failures());
  gauge('tower_agent_channels_open', 'Tunnel channels piping to this cluster.', () => state.channelsOpen());
  return registry;
}

/**
 * `GET /metrics`; with `ready`, also `GET /livez` (200 while the process runs) and
 * `GET /readyz` (200 while connected to the proxy, else 503) for the kubelet's probes.
 */
export function serveMetrics(registry: Registry, host: string, port: number, ready?: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && ready && (req.url === '/livez' || req.url === '/readyz')) {
      const ok = req.url === '/livez' || ready();
      return void res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not connected to the proxy\n');
    }
    if (req.method !== 'GET' || req.url !== '/metrics') return void res.writeHead(404).end('Not Found\n');
    exposition(registry).then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
