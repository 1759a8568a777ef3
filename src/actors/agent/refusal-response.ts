/**
 * A proxy that answers the upgrade with an HTTP error (429 for a throttled address, 503 for
 * a standby) says why in one line and when to come back in `Retry-After`. Read both, but
 * never more than a line's worth or for longer than a moment: the peer is not trusted.
 */
import type { IncomingMessage } from 'node:http';

const MAX_REASON_BYTES = 512;
const READ_TIMEOUT_MS = 2_000;

/** The first line of the body (at most 512 bytes, printable), or '' if none comes in time. */
export function readReason(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      res.off('data', onData);
      res.destroy();
      const text = Buffer.concat(chunks).subarray(0, MAX_REASON_BYTES).toString('utf8');
      resolve(text.split('\n')[0]!.replace(/[^\x20-\x7e]/g, '').trim());
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_REASON_BYTES) done();
    };
    const timer = setTimeout(done, READ_TIMEOUT_MS);
    res.on('data', onData);
    res.once('end', done);
    res.once('error', done);
  });
}

/** `Retry-After` in ms (delay-seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(date - now, 0);
}
