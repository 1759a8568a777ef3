/**
 * Attacks on the real bin/proxy of a hostile world, each measured the same way: the
 * proxy's peak RSS and fds while it lasts, and the good client of cluster `good` probed
 * meanwhile. The caller asserts; `npm run soak -- --hostile` prints the same reports.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { probeWhile, type AttackReport } from './attack-report.js';
import { silentSshSessions, tokenStorm } from './agent-port-storms.js';
import { connectHostileAgent } from './hostile-agent.js';
import type { HostileWorld } from './hostile-world.js';
import { MiB, readProcStats, watchProc } from './proc-stats.js';
import { connectRawAgent, rawConfig } from './raw-agent.js';
import { firstOf } from './ssh-wire.js';
import { socketFlood, type FloodKind, type FloodTls } from './socket-floods.js';

function proxyPid(world: HostileWorld): number {
  const pid = world.proxy.pid;
  if (pid === undefined) throw new Error('the proxy has no pid');
  return pid;
}

/** Resolve once something accepts TCP connections on `port` (bounded). */
export async function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => reject(new Error(`connection to ${port} closed before it opened`)));
  });
}

/**
 * A valid-token agent answers a ks request with `totalBytes` of body, ignoring the window
 * the proxy granted, while the client that asked reads nothing.
 */
export async function agentFloodsBeyondWindow(world: HostileWorld, totalBytes = 200 * MiB, timeoutMs = 15_000): Promise<AttackReport> {
  const from = world.proxy.output.length;
  const hostile = await connectHostileAgent(world.proxyPort, world.evil);
  let client: Socket | undefined;
  try {
    await waitListening(world.evil.ksPort);
    client = await connected(world.evil.ksPort);
    client.write('GET /big HTTP/1.1\r\nHost: ks\r\n\r\n');
    client.pause(); // asks, then reads nothing
    const channel = await hostile.nextChannel();
    const watch = await watchProc(proxyPid(world));
    const probes = probeWhile(world.probe);
    const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${totalBytes}\r\n\r\n`);
    const sent = await hostile.flood(channel, totalBytes + head.length, { head, timeoutMs });
    // Let the proxy act on what arrived: it cuts the attacker off, or has taken it all.
    await firstOf(hostile.raw.client, ['close'], 2_000);
    const peak = await watch.stop();
    return {
      attack: 'agent floods beyond the window',
      victim: 'proxy',
      peak,
      probes: await probes.stop(),
      facts: {
        sentMB: sent / MiB,
        attackerCutOff: hostile.raw.isClosed(),
        loggedWindow: /beyond the window/i.test(world.proxyLog(from)),
      },
    };
  } finally {
    client?.destroy();
    await hostile.close().catch(() => {});
  }
}

/**
 * A valid-token agent grants the proxy a ~4 GiB window on a channel, then stops reading,
 * while a client uploads `totalBytes` through the cluster's ks port as fast as it may.
 */
export async function agentStopsReadingDuringUpload(
  world: HostileWorld,
  totalBytes = 200 * MiB,
  timeoutMs = 15_000,
): Promise<AttackReport> {
  const hostile = await connectHostileAgent(world.proxyPort, world.evil);
  let uploader: Socket | undefined;
  try {
    await waitListening(world.evil.ksPort);
    uploader = await connected(world.evil.ksPort);
    uploader.write(`POST /upload HTTP/1.1\r\nHost: ks\r\nContent-Type: application/octet-stream\r\nContent-Length: ${totalBytes}\r\n\r\n`);
    const channel = await hostile.nextChannel();
    hostile.grantHugeWindow(channel);
    hostile.stopReading();
    const watch = await watchProc(proxyPid(world));
    const probes = probeWhile(world.probe);
    const uploaded = await upload(uploader, totalBytes, 2_000, Date.now() + timeoutMs);
    const peak = await watch.stop();
    return {
      attack: 'agent grants a huge window and stops reading during an upload',
      victim: 'proxy',
      peak,
      probes: await probes.stop(),
      facts: { uploadedMB: uploaded / MiB, uploadStalled: uploaded < totalBytes },
    };
  } finally {
    uploader?.destroy();
    await hostile.close().catch(() => {});
  }
}

/** Write as fast as the socket takes it; stop at `total`, the deadline, or no progress for `stallMs`. */
async function upload(socket: Socket, total: number, stallMs: number, deadline: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x75);
  let written = 0;
  while (written < total && Date.now() < deadline && !socket.destroyed) {
    const n = Math.min(chunk.length, total - written);
    written += n;
    if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
      let drained = false;
      const onDrain = () => (drained = true);
      socket.once('drain', onDrain);
      await firstOf(socket, ['drain', 'close'], Math.min(stallMs, deadline - Date.now()));
      socket.off('drain', onDrain);
      if (!drained) break;
    }
  }
  return written - socket.writableLength;
}

/** Fds over the baseline still counted as "back to the baseline" (probes, pooled connections). */
const FD_SLACK = 8;

export interface FloodTarget {
  /** For the report, e.g. "agent port", "ks listener", "kube listener". */
  readonly name: string;
  readonly port: number;
  readonly tls?: FloodTls;
}

/**
 * `count` connections of one kind held against `target` for up to `holdMs`, or until
 * the proxy has closed them all. Reports how many the proxy closed and when, and (for the
 * agent port) how long a good agent took to connect meanwhile.
 */
export async function socketFloodAttack(
  world: HostileWorld,
  target: FloodTarget,
  kind: FloodKind,
  count: number,
  holdMs: number,
): Promise<AttackReport> {
  const pid = proxyPid(world);
  const watch = await watchProc(pid);
  const baselineFds = readProcStats(pid).then((s) => s.fds);
  const probes = probeWhile(world.probe);
  const started = performance.now();
  const flood = await socketFlood(target.port, count, kind, target.tls ? { tls: target.tls } : {});
  try {
    const goodConnectMs = target.port === world.proxyPort ? await goodAgentConnect(world) : undefined;
    // Paused sockets (half-open) cannot see the proxy close them: its fd count can. The
    // others see every close, and their count is the one to trust: the proxy's fds can dip
    // for a moment while it destroys newcomers at the cap or evicts silent connections.
    const deadline = Date.now() + holdMs;
    let fds = (await readProcStats(pid)).fds;
    const baseline = await baselineFds;
    const allGone = () => (kind === 'half-open' ? fds <= baseline + FD_SLACK : flood.closedByServer() >= flood.opened);
    while (!allGone() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      fds = (await readProcStats(pid)).fds;
    }
    const allClosedAfterS = allGone() ? (performance.now() - started) / 1000 : -1;
    // The loop may end on the client's count with an fd sample 100 ms old: read them now.
    fds = (await readProcStats(pid)).fds;
    const peak = await watch.stop();
    return {
      attack: `${kind} flood (${count}) on the ${target.name}`,
      victim: 'proxy',
      peak,
      probes: await probes.stop(),
      facts: {
        opened: flood.opened,
        failed: flood.failed,
        closedByProxy: flood.closedByServer(),
        allClosedAfterS,
        fdsAtEndOfHold: fds,
        ...(goodConnectMs !== undefined ? { goodAgentConnectMs: goodConnectMs } : {}),
      },
    };
  } finally {
    flood.close();
  }
}

/** `count` SSH sessions that complete the handshake and never send a config. */
export async function silentSessionsAttack(world: HostileWorld, count: number, holdMs: number): Promise<AttackReport> {
  const watch = await watchProc(proxyPid(world));
  const probes = probeWhile(world.probe);
  const started = performance.now();
  const sessions = await silentSshSessions(world.proxyPort, count);
  try {
    const goodConnectMs = await goodAgentConnect(world);
    const deadline = Date.now() + holdMs;
    while (sessions.closedByProxy() < sessions.established && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const peak = await watch.stop();
    return {
      attack: `${count} SSH sessions without a config`,
      victim: 'proxy',
      peak,
      probes: await probes.stop(),
      facts: {
        established: sessions.established,
        refused: sessions.refused,
        closedByProxy: sessions.closedByProxy(),
        allClosedAfterS: sessions.closedByProxy() >= sessions.established ? (performance.now() - started) / 1000 : -1,
        goodAgentConnectMs: goodConnectMs,
      },
    };
  } finally {
    await sessions.close();
  }
}

/** Pause between two connects of the good agent during a storm. */
const GOOD_AGENT_PACE_MS = 100;

/**
 * Wrong tokens for `evil` from 127.0.0.2 (another host, to the proxy) as fast as
 * `concurrency` connections allow, while a good agent connects from 127.0.0.1.
 */
export async function tokenStormAttack(
  world: HostileWorld,
  options: { maxAttempts: number; durationMs: number; concurrency: number },
): Promise<AttackReport> {
  const from = world.proxy.output.length;
  const watch = await watchProc(proxyPid(world));
  const probes = probeWhile(world.probe);
  const storm = tokenStorm(world.proxyPort, { cluster: world.evil.name, localAddress: '127.0.0.2', ...options });
  const goodConnects: number[] = [];
  let stormDone = false;
  void storm.finally(() => (stormDone = true));
  // A good agent connecting now and then (paced: a tight loop of connects would itself be the load).
  while (!stormDone) {
    goodConnects.push(await goodAgentConnect(world));
    await new Promise((resolve) => setTimeout(resolve, GOOD_AGENT_PACE_MS));
  }
  const result = await storm;
  const peak = await watch.stop();
  const log = world.proxyLog(from);
  const metrics = await scrape(world.proxyPort);
  return {
    attack: `token-guessing storm (${options.concurrency} at a time)`,
    victim: 'proxy',
    peak,
    probes: await probes.stop(),
    facts: {
      attempts: result.attempts,
      judged: result.judged,
      refusedEarly: result.refusedEarly,
      failed: result.failed,
      guessesPerSecond: (result.attempts / result.elapsedMs) * 1000,
      goodAgentConnectMaxMs: Math.max(...goodConnects),
      goodAgentConnects: goodConnects.length,
      rejectionLines: (log.match(/"msg":"Agent rejected"/g) ?? []).length,
      logLines: log.split('\n').filter(Boolean).length,
      metricsFailures: metricSum(metrics, 'tower_proxy_auth_failures_total'),
      metricsThrottled: metricSum(metrics, 'tower_proxy_auth_throttled_total'),
    },
  };
}

/**
 * Time for a fresh agent of `spare` to be accepted (WebSocket, SSH, config), trying again
 * every 200 ms while the proxy refuses it (e.g. at its cap of unauthenticated
 * connections), for up to `withinMs`. The agent leaves at once.
 */
export async function goodAgentConnect(world: HostileWorld, withinMs = 10_000): Promise<number> {
  const started = performance.now();
  const config = rawConfig({
    name: world.spare.name,
    token: world.spare.token,
    kubernetesSvcHost: `127.0.0.1:${world.member.port}`,
    kubeSphereSvcHost: `127.0.0.1:${world.ksPort}`,
  });
  for (;;) {
    const left = withinMs - (performance.now() - started);
    try {
      const raw = await connectRawAgent(world.proxyPort, { timeoutMs: Math.max(1_000, left) });
      try {
        const reply = await raw.sendConfig(config);
        if (!reply.ok) throw new Error(`the good agent was refused: ${reply.message}`);
        return performance.now() - started;
      } finally {
        await raw.close().catch(() => {});
      }
    } catch (error) {
      if (performance.now() - started + 200 > withinMs) {
        throw new Error(`a good agent could not connect within ${withinMs} ms: ${error instanceof Error ? error.message : String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The proxy's /metrics text ('' when it does not answer). */
export async function scrape(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return await res.text();
  } catch {
    return '';
  }
}

/** Sum of a metric's samples, -1 when the proxy does not export it. */
export function metricSum(text: string, name: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (lines.length === 0) return -1;
  return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}
