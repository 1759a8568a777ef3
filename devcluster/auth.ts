/**
 * Authentication as a real apiserver does it: a client certificate verified by the
 * cluster CA (CN is the user, O the groups), a known bearer token, or a service-account
 * token (see sa-tokens.ts). What the user may do is RBAC's to decide (rbac.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface User {
  readonly name: string;
  readonly groups: readonly string[];
  readonly uid?: string;
}

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export class Authenticator {
  private readonly tokens = new Map<string, User>();

  /** `serviceAccountToken` answers for bearer tokens that are not static ones. */
  constructor(private readonly serviceAccountToken: (token: string) => User | undefined = () => undefined) {}

  addToken(token: string, user: User): void {
    this.tokens.set(token, user);
  }

  removeToken(token: string): void {
    this.tokens.delete(token);
  }

  /** A bearer token's user: a static token's, else a service account's. */
  authenticateToken(token: string): User | undefined {
    return this.tokens.get(token) ?? this.serviceAccountToken(token);
  }

  authenticate(req: IncomingMessage): User | undefined {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      // A bad token fails even if a certificate is also presented, as in kube-apiserver's union authenticator.
      return m ? this.authenticateToken(m[1] as string) : undefined;
    }
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const cert = socket.getPeerCertificate();
      const subject = cert?.subject as unknown as Record<string, string | string[] | undefined> | undefined;
      const cn = asList(subject?.['CN'])[0];
      if (cn) return { name: cn, groups: [...asList(subject?.['O']), 'system:authenticated'] };
    }
    return undefined;
  }
}
