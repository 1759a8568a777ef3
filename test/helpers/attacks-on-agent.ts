/**
 * Attacks of a hostile proxy on the real bin/agent (hostile-proxy.ts), measured as the
 * proxy attacks are: the agent's peak RSS and fds while it lasts, and what became of the
 * attacker's connection.
 */
import type { Connection, ServerChannel } from 'ssh2';
import type { AttackReport } from './attack-report.js';
import type { HostileProxyStage } from './hostile-proxy.js';
import { MiB, readProcStats, watchProc } from './proc-stats.js';
import { firstOf } from './ssh-wire.js';

function agentPid(stage: HostileProxyStage): number {
  const pid = stage.agent.pid;
  if (pid === undefined) throw new Error('the agent has no pid');
  return pid;
}

function connectionClosed(connection: Connection): Promise<void> {
  return new Promise((resolve) => connection.once('close', () => resolve()));
}

/**
 * The proxy opens a channel to the agent's kube target, which never reads, and sends
 * `totalBytes` on it whatever the window the agent granted.
 */
export async function proxyFloodsBeyondWindow(stage: HostileProxyStage, totalBytes = 200 * MiB, timeoutMs = 15_000): Promise<AttackReport> {
  const from = stage.agent.output.length;
  const connection = await stage.nextConnection();
  let cut = false;
  void connectionClosed(connection).then(() => (cut = true));
  const channel = await stage.open(connection, 'kube');
  channel.on('error', () => {});
  const watch = await watchProc(agentPid(stage));
  const sent = await stage.flood(connection, channel, totalBytes, timeoutMs);
  await firstOf(connection, ['close'], 2_000);
  const peak = await watch.stop();
  connection.end();
  return {
    attack: 'proxy floods beyond the window',
    victim: 'agent',
    peak,
    facts: { sentMB: sent / MiB, attackerCutOff: cut, loggedWindow: /beyond the window/i.test(stage.agent.output.slice(from)) },
  };
}

/**
 * The proxy opens a channel to the agent's ks target (which sends as fast as it may),
 * grants the agent a ~4 GiB window and stops reading, for `holdMs`.
 */
export async function proxyStopsReadingDuringDownload(stage: HostileProxyStage, holdMs = 6_000): Promise<AttackReport> {
  const connection = await stage.nextConnection();
  const channel = await stage.open(connection, 'ks');
  channel.on('error', () => {});
  stage.grantHugeWindow(connection, channel);
  stage.stopReading(connection);
  const watch = await watchProc(agentPid(stage));
  await firstOf(connection, ['close'], holdMs);
  const peak = await watch.stop();
  stage.drop(connection);
  return {
    attack: 'proxy grants a huge window and stops reading during a download',
    victim: 'agent',
    peak,
    facts: { heldS: holdMs / 1000 },
  };
}

/**
 * The proxy opens `count` channels at once to the agent's kube target (which holds every
 * connection), then asks for one more, then closes them all.
 */
export async function channelBurst(stage: HostileProxyStage, count: number, settleMs = 10_000): Promise<AttackReport> {
  const pid = agentPid(stage);
  const connection = await stage.nextConnection();
  const watch = await watchProc(pid);
  const started = performance.now();
  const reasons = new Map<string, number>();
  const opened: ServerChannel[] = [];
  await Promise.all(
    Array.from({ length: count }, () =>
      stage.open(connection, 'kube').then(
        (channel) => {
          channel.on('error', () => {});
          opened.push(channel);
        },
        (error: Error) => {
          const reason = error.message.replace(/\d+/g, 'N');
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        },
      ),
    ),
  );
  const burstS = (performance.now() - started) / 1000;
  const duringFds = (await readProcStats(pid)).fds;
  // One more, as a normal request would: refused at once, or opened quickly.
  const extraStarted = performance.now();
  const extra = await stage.open(connection, 'ks').then(
    (channel) => (channel.destroy(), 'opened'),
    (error: Error) => `refused: ${error.message}`,
  );
  const extraMs = performance.now() - extraStarted;
  for (const channel of opened) channel.destroy();
  // The agent should give back what the burst took: wait for its fds to come back down.
  const baseline = watch;
  const peak = await baseline.stop();
  const deadline = Date.now() + settleMs;
  let after = await readProcStats(pid);
  while (after.fds > peak.before.fds + 5 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    after = await readProcStats(pid);
  }
  connection.end();
  return {
    attack: `${count} channels opened at once by the proxy`,
    victim: 'agent',
    peak,
    facts: {
      opened: opened.length,
      refused: count - opened.length,
      refusals: [...reasons].map(([r, n]) => `${n}× ${r}`).join('; ') || 'none',
      burstS,
      fdsDuringBurst: duringFds,
      extraChannel: extra,
      extraChannelMs: extraMs,
      fdsAfterClose: after.fds,
      rssAfterCloseMB: after.rssBytes / MiB,
    },
  };
}
