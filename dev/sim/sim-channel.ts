/**
 * One `kubesphere` channel on a simulated agent: refuse anything but the allowed targets,
 * dial the target, accept the channel only once the target answered (as the real agent
 * does: an unreachable target is a failed open, not an empty stream), then pipe.
 */
import { connect } from 'node:net';
import type { ClientChannel } from 'ssh2';
import { pipeStreams } from '../../src/actors/pipe-streams.js';
import { CHANNEL_TYPE, MAX_TARGET_BYTES } from '../../src/protocol/constants.js';
import { parseHostPort } from '../../src/protocol/host-port.js';
import type { CustomChannelInfo } from '../../src/protocol/ssh2-extensions.js';
import type { SimStats } from './sim-stats.js';

export interface SimChannelContext {
  readonly allowedTargets: ReadonlySet<string>;
  readonly dialTimeoutMs: number;
  readonly stats: SimStats;
  /** Abort functions of this connection's channels; the agent calls them when it drops. */
  readonly live: Set<() => void>;
}

export function serveSimChannel(
  info: CustomChannelInfo,
  accept: () => ClientChannel,
  reject: () => void,
  ctx: SimChannelContext,
): void {
  const target = info.data && info.data.length <= MAX_TARGET_BYTES ? info.data.toString('latin1') : undefined;
  const address = target && ctx.allowedTargets.has(target) ? parseHostPort(target) : undefined;
  if (info.type !== CHANNEL_TYPE || !address) {
    ctx.stats.channelsRefused += 1;
    reject();
    return;
  }
  const socket = connect({ host: address.host, port: address.port });
  socket.setNoDelay(true);
  let settled = false;
  const cancel = () => fail();
  const timer = setTimeout(() => fail(), ctx.dialTimeoutMs);
  ctx.live.add(cancel);
  function fail() {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    ctx.live.delete(cancel);
    socket.destroy();
    ctx.stats.dialFailures += 1;
    reject();
  }
  socket.once('error', fail);
  socket.once('connect', () => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    ctx.live.delete(cancel);
    socket.off('error', fail);
    let channel: ClientChannel;
    try {
      channel = accept();
    } catch {
      socket.destroy();
      return;
    }
    ctx.stats.channelsOpened += 1;
    ctx.stats.channelsOpen += 1;
    const abort = pipeStreams(channel, socket, () => {
      ctx.stats.channelsOpen -= 1;
      ctx.live.delete(abort);
    });
    ctx.live.add(abort);
  });
}
