/**
 * Notice when a service-account token file gets new content. Polling the content is
 * simple and dependable for projected volumes, whose files are replaced through a
 * `..data` symlink swap that fs.watch reports unreliably.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export function watchTokenFile(path: string, intervalMs: number, onChange: () => void): { close(): void } {
  let last: string | undefined;
  let closed = false;
  const digest = async () => createHash('sha256').update(await readFile(path)).digest('hex');
  const check = async () => {
    try {
      const now = await digest();
      if (closed) return;
      if (last !== undefined && now !== last) onChange();
      last = now;
    } catch {
      // Missing for a moment during the swap: look again next time.
    }
  };
  void check();
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    close: () => {
      closed = true;
      clearInterval(timer);
    },
  };
}
