/**
 * Bad inputs for the proxy's agent port, each with the refusal it must get: plain HTTP
 * to an unknown path, a wrong subprotocol, bytes that are not SSH, a WebSocket that stays
 * silent, an SSH peer that never sends `config`, a wrong token, an unknown cluster, a
 * config that is not JSON or is over the size limit, and an accepted agent that tries to
 * open channels itself and to send a second config. A probe the proxy restart cut short
 * is "interrupted"; one the end of the run cut short is "cancelled"; anything else that
 * is not the expected refusal is "unexpected: …".
 */
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { encodeAgentConfig } from '../../src/protocol/agent-config.js';
import { MAX_CONFIG_BYTES, SUBPROTOCOL } from '../../src/protocol/constants.js';
import { connectSsh, openWebSocket, ProbeScope, type RawSsh } from './soak-raw-agent.js';
import type { SoakProxyLimits } from './soak-proxy.js';

export const PROBE_KINDS = [
  'http-404',
  'wrong-subprotocol',
  'non-ssh-bytes',
  'silent-websocket',
  'no-config',
  'wrong-token',
  'unknown-cluster',
  'bad-json',
  'oversize-config',
  'agent-channels',
] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/**
 * One step of a probe (a reply, a refusal) must come within this: as the requests'
 * timeout, generous, since an in-process run shares one event loop with the whole fleet.
 */
const STEP_MS = 10_000;
/** Slack on top of a proxy time limit before its enforcement counts as missing. */
const SLACK_MS = 3_000;

export interface ProbeContext {
  readonly port: number;
  readonly limits: SoakProxyLimits;
  /** A served cluster (its name, for the wrong-token probe). */
  readonly servedName: string;
  /** A served cluster of its own for probes that must be accepted first. */
  readonly probeCluster: { readonly name: string; readonly token: string };
  readonly upstream: { readonly kubernetes: string; readonly kubesphere: string };
  readonly epoch: () => number;
  readonly up: () => boolean;
}

/** `refused` (as expected), `interrupted`, `cancelled`, or `unexpected: …`. */
export async function runProbe(kind: ProbeKind, ctx: ProbeContext, scope: ProbeScope): Promise<string> {
  const epoch = ctx.epoch();
  const wasUp = ctx.up();
  let problem: string | undefined;
  let cancelled = false;
  try {
    problem = await PROBES[kind](ctx, scope);
  } catch (error) {
    problem = `threw ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    cancelled = scope.cancelled;
    scope.cancel();
  }
  if (problem === undefined) return 'refused';
  if (cancelled) return 'cancelled';
  if (!wasUp || ctx.epoch() !== epoch || !ctx.up()) return 'interrupted';
  return `unexpected: ${problem}`;
}

type Probe = (ctx: ProbeContext, scope: ProbeScope) => Promise<string | undefined>;

const config = (ctx: ProbeContext, name: string, token: string) =>
  encodeAgentConfig({
    version: 'soak-probe',
    name,
    token,
    kubernetesSvcHost: ctx.upstream.kubernetes,
    kubeSphereSvcHost: ctx.upstream.kubesphere,
    bearerToken: Buffer.from('soak-probe'),
  });

/** Send `payload` as config; the reply must be a refusal matching `reason`, then the proxy closes. */
async function refusedConfig(ctx: ProbeContext, scope: ProbeScope, payload: Buffer, reason: RegExp): Promise<string | undefined> {
  const ssh = await connectSsh(ctx.port, scope, STEP_MS);
  if (typeof ssh === 'string') return ssh;
  const reply = await ssh.sendConfig(payload, STEP_MS);
  if (typeof reply === 'string') return reply;
  if (reply.ok) return 'config accepted';
  if (!reason.test(reply.message)) return `refused with ${JSON.stringify(reply.message.slice(0, 80))}`;
  return closedWithin(ssh, scope, STEP_MS, 'the proxy did not close after refusing the config');
}

async function closedWithin(peer: { closed: Promise<void> }, scope: ProbeScope, ms: number, what: string): Promise<string | undefined> {
  return scope.within(
    peer.closed.then(() => undefined),
    ms,
    `${what} within ${ms} ms`,
    'cancelled',
  );
}

const PROBES: Record<ProbeKind, Probe> = {
  'http-404': (ctx, scope) =>
    scope.within(
      new Promise<string | undefined>((resolve) => {
        const req = request({ host: '127.0.0.1', port: ctx.port, path: '/no-such-path', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode === 404 ? undefined : `HTTP ${res.statusCode}`);
        });
        scope.add(() => req.destroy());
        req.on('error', (error) => resolve(error.message));
        req.end();
      }),
      STEP_MS,
      'no answer',
      'cancelled',
    ),
  'wrong-subprotocol': async (ctx, scope) => {
    const ws = await openWebSocket(ctx.port, 'not-kubesphere', scope, STEP_MS);
    if (!('refused' in ws)) return 'upgraded';
    return ws.refused === 'HTTP 400' ? undefined : ws.refused;
  },
  'non-ssh-bytes': async (ctx, scope) => {
    const ws = await openWebSocket(ctx.port, SUBPROTOCOL, scope, STEP_MS);
    if ('refused' in ws) return ws.refused;
    ws.stream.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: tower\r\n\r\n'), randomBytes(512)]));
    return closedWithin(ws, scope, ctx.limits.handshakeTimeoutMs + SLACK_MS, 'non-SSH bytes were not refused');
  },
  'silent-websocket': async (ctx, scope) => {
    const ws = await openWebSocket(ctx.port, SUBPROTOCOL, scope, STEP_MS);
    if ('refused' in ws) return ws.refused;
    return closedWithin(ws, scope, ctx.limits.handshakeTimeoutMs + SLACK_MS, 'a silent WebSocket was not closed');
  },
  'no-config': async (ctx, scope) => {
    const ssh = await connectSsh(ctx.port, scope, STEP_MS);
    if (typeof ssh === 'string') return ssh;
    return closedWithin(ssh, scope, ctx.limits.configTimeoutMs + SLACK_MS, 'an agent without config was not closed');
  },
  'wrong-token': (ctx, scope) => refusedConfig(ctx, scope, config(ctx, ctx.servedName, 'wrong-token'), /wrong token/),
  'unknown-cluster': (ctx, scope) => refusedConfig(ctx, scope, config(ctx, 'no-such-cluster', 'x'), /not served/),
  'bad-json': (ctx, scope) => refusedConfig(ctx, scope, Buffer.from('{"Name": "soak", this is not JSON'), /./),
  'oversize-config': (ctx, scope) => refusedConfig(ctx, scope, Buffer.alloc(MAX_CONFIG_BYTES + 1024, 0x20), /limit/),
  'agent-channels': async (ctx, scope) => {
    const ssh = await connectSsh(ctx.port, scope, STEP_MS);
    if (typeof ssh === 'string') return ssh;
    const reply = await ssh.sendConfig(config(ctx, ctx.probeCluster.name, ctx.probeCluster.token), STEP_MS);
    if (typeof reply === 'string') return reply;
    if (!reply.ok) return `valid config refused: ${reply.message.slice(0, 80)}`;
    for (const [what, open] of channelAttempts(ssh)) {
      const result = await scope.within(open(), STEP_MS, 'no answer', 'cancelled');
      if (result === 'cancelled') return result;
      if (result !== 'refused') return `${what}: ${result}`;
    }
    const again = await ssh.sendConfig(config(ctx, ctx.probeCluster.name, ctx.probeCluster.token), STEP_MS);
    if (typeof again === 'string') return `second config: ${again}`;
    if (again.ok) return 'second config accepted';
    ssh.client.end();
    return closedWithin(ssh, scope, STEP_MS, 'the session did not end after the agent left');
  },
};

/** Channels an agent must not open: a session (exec) and a direct-tcpip forward. */
function channelAttempts(ssh: RawSsh): Array<[string, () => Promise<string>]> {
  const settle = (start: (cb: (error: Error | undefined) => void) => void) =>
    new Promise<string>((resolve) => {
      try {
        start((error) => resolve(error ? 'refused' : 'opened'));
      } catch (error) {
        resolve(`threw ${error instanceof Error ? error.message : String(error)}`);
      }
      void ssh.closed.then(() => resolve('connection closed'));
    });
  return [
    ['exec', () => settle((cb) => ssh.client.exec('id', (error, channel) => (channel?.close(), cb(error))))],
    ['direct-tcpip', () => settle((cb) => ssh.client.forwardOut('127.0.0.1', 0, '127.0.0.1', 22, (error, channel) => (channel?.close(), cb(error))))],
  ];
}
