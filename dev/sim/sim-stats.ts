/** Counters of a simulated fleet, shared by all its agents; read with `snapshot()`. */

export interface SimStatsSnapshot {
  /** Agents whose `config` was accepted and whose connection is up. */
  readonly connected: number;
  /** Connection attempts started. */
  readonly attempts: number;
  /** `config` accepted (each reconnect counts again). */
  readonly handshakes: number;
  /** Attempts or connections that ended, by reason. */
  readonly disconnects: Readonly<Record<string, number>>;
  readonly channelsOpened: number;
  readonly channelsOpen: number;
  /** Channel opens refused: unknown type or a target not allowed. */
  readonly channelsRefused: number;
  /** Allowed targets that could not be dialed. */
  readonly dialFailures: number;
}

export class SimStats {
  connected = 0;
  attempts = 0;
  handshakes = 0;
  channelsOpened = 0;
  channelsOpen = 0;
  channelsRefused = 0;
  dialFailures = 0;
  readonly #disconnects = new Map<string, number>();

  disconnected(reason: string): void {
    this.#disconnects.set(reason, (this.#disconnects.get(reason) ?? 0) + 1);
  }

  snapshot(): SimStatsSnapshot {
    return {
      connected: this.connected,
      attempts: this.attempts,
      handshakes: this.handshakes,
      disconnects: Object.fromEntries(this.#disconnects),
      channelsOpened: this.channelsOpened,
      channelsOpen: this.channelsOpen,
      channelsRefused: this.channelsRefused,
      dialFailures: this.dialFailures,
    };
  }
}

/** A short, countable reason from an error message (no addresses or ports). */
export function classifyReason(message: string): string {
  if (/ECONNREFUSED/.test(message)) return 'refused';
  if (/ECONNRESET|EPIPE/.test(message)) return 'reset';
  if (/timed? ?out|timeout/i.test(message)) return 'timeout';
  const http = /HTTP (\d{3})/.exec(message);
  if (http) return `http-${http[1]}`;
  // Names and addresses differ per agent; keep one counter per kind of reason.
  return message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, 'ADDR')
    .slice(0, 80);
}
