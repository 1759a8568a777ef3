/** Read the proxy's `GET /metrics` (Prometheus text) during a soak run. */
import { request } from 'node:http';

const SCRAPE_TIMEOUT_MS = 5_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** GET /metrics on 127.0.0.1:port; rejects on any failure within a bounded time. */
export function scrapeMetrics(port: number): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: SCRAPE_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) return void req.destroy(new Error('metrics body too large'));
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET /metrics: HTTP ${res.statusCode}`));
        resolve(parseMetrics(Buffer.concat(chunks).toString('utf8')));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET /metrics: no answer within ${SCRAPE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

/** Sum of a metric's samples, optionally only those whose labels match. */
export function metricValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** A metric's values keyed by one label (e.g. handshakes by `result`). */
export function metricByLabel(samples: readonly Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}
