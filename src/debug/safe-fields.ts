/**
 * What of an actor's context and events the debug page may show. Contexts and events
 * can hold tokens, kubeconfigs, keys and whole Kubernetes objects, so nothing is shown
 * unless its field name is on the list below, and only plain values (strings, numbers,
 * booleans and short lists of them). A field a machine adds later stays hidden until it
 * is added here. Strings are cut short, and a long run of token-like characters is
 * masked anyway, in case a message quotes one.
 */

/** Field names safe to show, in contexts and in events, whatever the machine. */
const SAFE_FIELDS = new Set([
  // sessions and channels
  'sessionId',
  'remoteAddress',
  'clusterName',
  'reason',
  'allowedTargets',
  'target',
  'id',
  'bytesIn',
  'bytesOut',
  'code',
  'end',
  // agent connection
  'failures',
  'lastError',
  'maxRetry',
  'keepaliveMs',
  'pingTimeoutMs',
  'missedPings',
  // gateways
  'sessions',
  'removed',
  'updatePending',
  'retryListenMs',
  // leader election
  'identity',
  'holder',
  'lastRenewAt',
  'terms',
  'leaseDurationMs',
  'renewDeadlineMs',
  'retryPeriodMs',
  'leading',
  // watches
  'resource',
  'resourceVersion',
  'relists',
  'eventType',
  // token rotation and generic progress
  'rotations',
  'checkIntervalMs',
  'connectTimeoutMs',
  'graceMs',
  'attempt',
  'generation',
  'count',
  'status',
]);

const MAX_STRING = 160;
const MAX_LIST = 16;
const MAX_FIELDS = 24;
/** 32+ characters of base64/hex without a break: looks like a token or key material. */
const TOKEN_LIKE = /[A-Za-z0-9+/=_-]{32,}/g;

export type SafeValue = string | number | boolean | null | readonly (string | number | boolean | null)[];
export type SafeFields = Readonly<Record<string, SafeValue>>;

/** The allow-listed plain fields of `source` (a context or an event), made safe to show. */
export function safeFields(source: unknown): SafeFields {
  const out: Record<string, SafeValue> = {};
  if (!source || typeof source !== 'object') return out;
  let n = 0;
  for (const name of Object.keys(source)) {
    if (!SAFE_FIELDS.has(name)) continue;
    const value = safeValue((source as Record<string, unknown>)[name]);
    if (value === undefined) continue;
    out[name] = value;
    if ((n += 1) >= MAX_FIELDS) break;
  }
  return out;
}

function safeValue(value: unknown): SafeValue | undefined {
  if (Array.isArray(value)) {
    const items: Array<string | number | boolean | null> = [];
    for (const item of value.slice(0, MAX_LIST)) {
      const safe = safeScalar(item);
      if (safe === undefined) return undefined; // a list of objects is not shown at all
      items.push(safe);
    }
    return items;
  }
  return safeScalar(value);
}

function safeScalar(value: unknown): string | number | boolean | null | undefined {
  if (value === null) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return safeText(value);
  return undefined;
}

/** A string cut to a readable length, with token-like runs masked. */
export function safeText(text: string): string {
  const masked = text.replace(TOKEN_LIKE, '[…]');
  return masked.length > MAX_STRING ? `${masked.slice(0, MAX_STRING - 1)}…` : masked;
}

/** The message of an error-like value, made safe (for `xstate.error.actor` events). */
export function safeErrorMessage(error: unknown): string | undefined {
  if (error instanceof Error) return safeText(error.message);
  if (typeof error === 'string') return safeText(error);
  return undefined;
}
