/**
 * An agent with a valid token that breaks SSH flow control toward the proxy: it answers
 * a channel with far more than the window it was granted, or grants the proxy a ~4 GiB
 * window and then stops reading. Built on the raw agent (ssh2 client over WebSocket).
 */
import type { ClientChannel } from 'ssh2';
import { CHANNEL_TYPE } from '../../src/protocol/constants.js';
import { connectRawAgent, rawConfig, type RawAgent } from './raw-agent.js';
import { floodChannel, grantHugeWindow } from './ssh-wire.js';

export interface HostileAgent {
  readonly raw: RawAgent;
  /** The next channel the proxy opens (accepted), within `timeoutMs`. */
  nextChannel(timeoutMs?: number): Promise<ClientChannel>;
  /** Answer on `channel` with `total` bytes (after `head`) whatever the window; returns bytes sent. */
  flood(channel: ClientChannel, total: number, options: { head?: Buffer; timeoutMs: number }): Promise<number>;
  /** Grant the proxy a ~4 GiB window on `channel`. */
  grantHugeWindow(channel: ClientChannel): void;
  /** Read nothing more from the proxy (the WebSocket's socket is paused). */
  stopReading(): void;
  close(): Promise<void>;
}

export async function connectHostileAgent(
  proxyPort: number,
  cluster: { readonly name: string; readonly token: string },
  options: { readonly localAddress?: string } = {},
): Promise<HostileAgent> {
  const raw = await connectRawAgent(proxyPort, options);
  const channels: ClientChannel[] = [];
  const waiting: Array<(channel: ClientChannel) => void> = [];
  raw.client.on('custom channel', (info, accept, reject) => {
    if (info.type !== CHANNEL_TYPE) return reject();
    const channel = accept();
    channel.on('error', () => {});
    const waiter = waiting.shift();
    if (waiter) waiter(channel);
    else channels.push(channel);
  });
  const reply = await raw.sendConfig(rawConfig({ name: cluster.name, token: cluster.token }));
  if (!reply.ok) {
    await raw.close();
    throw new Error(`the proxy refused the hostile agent's config: ${reply.message}`);
  }
  return {
    raw,
    nextChannel: (timeoutMs = 10_000) => {
      const ready = channels.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(onChannel), 1);
          reject(new Error(`the proxy opened no channel within ${timeoutMs} ms`));
        }, timeoutMs);
        const onChannel = (channel: ClientChannel) => {
          clearTimeout(timer);
          resolve(channel);
        };
        waiting.push(onChannel);
      });
    },
    flood: (channel, total, floodOptions) => floodChannel(raw.client, channel, raw.stream, total, floodOptions),
    grantHugeWindow: (channel) => grantHugeWindow(raw.client, channel),
    stopReading: () => raw.ws.pause(),
    close: () => raw.close(),
  };
}
