/** `HOST:PORT` flags for a listener of our own (`--debug-address`): checked, one-line errors. */
import { isIP } from 'node:net';
import { UsageError } from './usage-error.js';

export interface ListenAddress {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** `127.0.0.1:9464`, `[::1]:9464`, `localhost:0`. */
export function parseListenAddress(flag: string, value: string): ListenAddress {
  const example = `(example: --${flag} 127.0.0.1:9464)`;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(value);
  const colon = value.lastIndexOf(':');
  const host = v6 ? v6[1]! : colon > 0 ? value.slice(0, colon) : '';
  const portText = v6 ? v6[2]! : colon > 0 ? value.slice(colon + 1) : '';
  if (!host || portText === '') throw new UsageError(`--${flag} ${value}: must be HOST:PORT ${example}`);
  if (v6 ? isIP(host) !== 6 : !(isIP(host) === 4 || HOSTNAME.test(host))) throw new UsageError(`--${flag} ${value}: ${host} is not an IP address or host name ${example}`);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new UsageError(`--${flag} ${value}: port ${portText} is out of range 0-65535`);
  return { host, port: Number(portText) };
}
