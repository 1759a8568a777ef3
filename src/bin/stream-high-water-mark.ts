/**
 * Node 22 raised a byte stream's default high-water mark from 16 KiB to 64 KiB; the bins
 * use 64 KiB on Node 20 too, so every supported Node buffers (and bounds) a stream alike.
 *
 * Why it matters on the data path: a writer that respects `write()` (a pipe, the ssh2
 * patch's gate in front of the WebSocket) hands a stream at most its high-water mark per
 * event-loop turn, as a TLS write completes only on the next turn. With 16 KiB the proxy
 * wrote a bulk response to its client one 16 KiB record per system call, and the agent
 * one SSH packet per WebSocket write. Measured (bench `bulk`, Node 20, three interleaved
 * pairs): all processes' CPU per GB on the kube path 8.43 / 9.31 / 9.84 → 7.59 / 8.98 /
 * 7.82 s (docs/performance.md, "A stream's buffer, the same on every Node").
 *
 * A limit, not memory: an idle stream holds nothing more. Call it before servers start.
 */
import { getDefaultHighWaterMark, setDefaultHighWaterMark } from 'node:stream';

export const STREAM_HIGH_WATER_MARK = 64 * 1024;

/** Returns whether it changed anything (false on Node 22 and later). */
export function raiseStreamHighWaterMark(): boolean {
  if (getDefaultHighWaterMark(false) >= STREAM_HIGH_WATER_MARK) return false;
  setDefaultHighWaterMark(false, STREAM_HIGH_WATER_MARK);
  return true;
}
