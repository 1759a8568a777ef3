/** ClusterIP (10.96.0.0/12) and NodePort (30000-32767) allocation for Services. */
import { randomInt } from 'node:crypto';

const BASE = (10 << 24) | (96 << 16); // 10.96.0.0
const SIZE = 1 << 20; // a /12

function toIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function fromIp(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

export class Ipam {
  private readonly ips = new Set<string>();
  private readonly ports = new Set<number>();

  /** The service CIDR's first address goes to the `kubernetes` Service. */
  static readonly kubernetesIp = toIp(BASE + 1);

  inRange(ip: string): boolean {
    const n = fromIp(ip);
    return n !== undefined && n > BASE >>> 0 && n < (BASE + SIZE - 1) >>> 0;
  }

  /** Reserve `wanted` (must be free and in range) or a random free address. */
  allocateIp(wanted?: string): string | Error {
    if (wanted) {
      if (!this.inRange(wanted)) return new Error(`${wanted}: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12`);
      if (this.ips.has(wanted)) return new Error(`${wanted}: provided IP is already allocated`);
      this.ips.add(wanted);
      return wanted;
    }
    for (let i = 0; i < 4096; i++) {
      const ip = toIp(BASE + 2 + randomInt(SIZE - 3));
      if (!this.ips.has(ip)) {
        this.ips.add(ip);
        return ip;
      }
    }
    return new Error('range is full');
  }

  releaseIp(ip: unknown): void {
    if (typeof ip === 'string') this.ips.delete(ip);
  }

  allocatePort(wanted?: number): number | Error {
    if (wanted) {
      if (wanted < 30000 || wanted > 32767) return new Error(`${wanted}: provided port is not in the valid range. The range of valid ports is 30000-32767`);
      if (this.ports.has(wanted)) return new Error(`${wanted}: provided port is already allocated`);
      this.ports.add(wanted);
      return wanted;
    }
    for (let i = 0; i < 4096; i++) {
      const p = 30000 + randomInt(2768);
      if (!this.ports.has(p)) {
        this.ports.add(p);
        return p;
      }
    }
    return new Error('range is full');
  }

  releasePort(port: unknown): void {
    if (typeof port === 'number') this.ports.delete(port);
  }
}
