/**
 * `--debug-address HOST:PORT`: the built-in inspector. An HTTP server of its own (never
 * the agent port) serving the page, its script and stylesheet, `GET /events` (server-sent
 * events: the hub's snapshot, then batched updates) and `GET /snapshot.json`.
 *
 * Bounded: at most MAX_CLIENTS event streams; a client that does not read is dropped
 * (its browser reconnects and starts from a fresh snapshot); updates go out at most every
 * FLUSH_MS whatever the event rate. Only GET and HEAD; requests naming a host other than
 * an IP address, `localhost` or the address we listen on are refused (DNS rebinding).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { InspectionEvent } from 'xstate';
import { InspectionHub, type HubLimits } from './inspection-hub.js';
import { PAGE_CSS, PAGE_HTML } from './page-html.js';
import { PAGE_SCRIPT } from './page-script.js';

export interface DebugServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Shown on the page: `tower-proxy`, `tower-agent`. */
  readonly processName: string;
  readonly limits?: Partial<HubLimits>;
}

export interface DebugServer {
  /** Feed this to every actor (`createActor(…, { inspect })`). */
  readonly inspect: (event: InspectionEvent) => void;
  readonly hub: InspectionHub;
  /** `http://HOST:PORT/` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const MAX_CLIENTS = 8;
const FLUSH_MS = 250;
const HEARTBEAT_MS = 15_000;
/** Unsent bytes a client may fall behind by before it is dropped. */
const MAX_BACKLOG = 4 * 1024 * 1024;

const ASSETS: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/inspector.js': { type: 'text/javascript; charset=utf-8', body: PAGE_SCRIPT },
  '/inspector.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export async function startDebugServer(options: DebugServerOptions): Promise<DebugServer> {
  const hub = new InspectionHub(options.limits);
  const clients = new Set<ServerResponse>();
  const processInfo = { name: options.processName, pid: process.pid };
  let flushTimer: NodeJS.Timeout | undefined;

  const send = (res: ServerResponse, event: string, data: unknown): void => {
    if (res.writableLength > MAX_BACKLOG) {
      res.destroy(); // too far behind: its EventSource reconnects and gets a fresh snapshot
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const flush = (): void => {
    flushTimer = undefined;
    const delta = hub.takeDelta();
    if (!delta) return;
    for (const res of clients) send(res, 'update', delta);
  };
  hub.onChange(() => {
    flushTimer ??= setTimeout(flush, FLUSH_MS);
    flushTimer.unref();
  });
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keepalive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const allowedHost = (req: IncomingMessage): boolean => {
    const header = req.headers.host;
    if (!header) return false;
    const hostname = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.split(':')[0]!;
    return isIP(hostname) !== 0 || hostname === 'localhost' || hostname === options.host;
  };

  const server = createServer((req, res) => {
    req.resume();
    res.on('error', () => {});
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...SECURITY_HEADERS }).end();
      return;
    }
    if (!allowedHost(req)) {
      res.writeHead(421, { 'content-type': 'text/plain', ...SECURITY_HEADERS }).end('Misdirected request: use the address the inspector listens on\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const asset = ASSETS[path === '/index.html' ? '/' : path];
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, ...SECURITY_HEADERS }).end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (path === '/snapshot.json') {
      const body = JSON.stringify({ process: processInfo, ...hub.snapshot() });
      res.writeHead(200, { 'content-type': 'application/json', ...SECURITY_HEADERS }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/events') {
      if (clients.size >= MAX_CLIENTS) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5', ...SECURITY_HEADERS }).end('Too many inspector pages open\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive', ...SECURITY_HEADERS });
      res.write('retry: 2000\n\n');
      clients.add(res);
      res.on('close', () => clients.delete(res));
      send(res, 'snapshot', { process: processInfo, ...hub.snapshot() });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain', ...SECURITY_HEADERS }).end('Not Found\n');
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    inspect: hub.inspect,
    hub,
    url: `http://${shownHost}:${port}/`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        clearTimeout(flushTimer);
        clearInterval(heartbeat);
        for (const res of clients) res.end();
        clients.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
