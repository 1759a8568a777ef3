/** `host:port` strings as they travel in the config and in channel-open data. */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/**
 * Parse `host[:port]` (IPv6 as `[::1]:443`), applying `defaultPort` when no port is
 * given. Returns undefined for anything else (paths, schemes, bad ports, odd characters).
 */
export function parseHostPort(value: string, defaultPort?: number): HostPort | undefined {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(value);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const parts = value.split(':');
    if (parts.length > 2) return undefined;
    host = parts[0]!;
    portText = parts[1];
    if (!HOST_RE.test(host)) return undefined;
  }
  let port: number;
  if (portText === undefined) {
    if (defaultPort === undefined) return undefined;
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
  }
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** The TLS server name (SNI) for `host`: a DNS name, or none for an IP literal (the certificate check still uses the IP). */
export function serverName(host: string): string | undefined {
  return /^[\d.]+$|:/.test(host) ? undefined : host;
}

/** `host:port`, brackets around IPv6 literals. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Normalized `host:port` text, or undefined when `value` is not a valid address. */
export function normalizeHostPort(value: string, defaultPort?: number): string | undefined {
  const parsed = parseHostPort(value, defaultPort);
  return parsed && formatHostPort(parsed);
}
