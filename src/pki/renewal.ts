/**
 * When to renew an issued certificate. Never against a fixed margin: a certificate can
 * never outlive its CA, so in the CA's last month every fresh certificate would itself be
 * "due" and a fixed 30-day rule renews forever (the controller wrote ~70 kubeconfigs a
 * second that way). Renew in the last third of the certificate's own lifetime, and only
 * when a fresh one would really last longer.
 */
import { DAY_MS } from './validity.js';

export interface CertTimes {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A fresh certificate's notAfter: `validityDays` from now, never past the CA's. */
export function freshNotAfter(now: Date, validityDays: number, caNotAfter: Date): Date {
  const wanted = now.getTime() + validityDays * DAY_MS;
  return new Date(Math.min(wanted, caNotAfter.getTime()));
}

/** True when `cert` is in the last third of its lifetime and a fresh one would last at least a day longer. */
export function shouldRenew(cert: CertTimes, fresh: Date, now: Date): boolean {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  const left = cert.notAfter.getTime() - now.getTime();
  return left < lifetime / 3 && fresh.getTime() - cert.notAfter.getTime() >= DAY_MS;
}
