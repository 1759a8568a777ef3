/** The proxy's Prometheus text at `GET /metrics` on its agent port, and sums of its samples. */
import { request } from 'node:http';
import { HOST } from './bench-env.js';

/** The exposition text, or null when the proxy serves none (or does not answer within 10 s). */
export function scrapeMetrics(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path: '/metrics', agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(null);
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(null));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

/**
 * Sum of the samples of `name` whose labels include every `labels` pair; undefined when
 * the metric has no sample at all.
 */
export function metricSum(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? ([0-9.eE+-]+|NaN|[+-]Inf)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[3] ?? '';
    if (!Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) continue;
    const value = Number(match[4]);
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
