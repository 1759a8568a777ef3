/** How far back `notBefore` is set, so peers with a slow clock accept a new certificate. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** Default lifetime of issued serving and client certificates. */
export const DEFAULT_LEAF_VALIDITY_DAYS = 365;

/** One day in milliseconds. */
export const DAY_MS = 86_400_000;

/**
 * The validity window of a certificate issued at `now` for `days`: backdated by
 * the clock skew, and never past `notAfterLimit` (the issuing CA's expiry).
 */
export function validityWindow(now: Date, days: number, notAfterLimit?: Date): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  let notAfter = new Date(now.getTime() + days * DAY_MS);
  if (notAfterLimit && notAfter > notAfterLimit) notAfter = notAfterLimit;
  return { notBefore, notAfter };
}
