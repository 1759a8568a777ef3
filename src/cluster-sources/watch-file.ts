/**
 * Calls back (debounced) when a file may have changed. It watches the file's directory,
 * not the file, so it survives editors that replace the file by rename and the file being
 * deleted and created again; it also sees Kubernetes ConfigMap volume updates (an atomic
 * swap of the `..data` symlink) and, for a symlinked file, edits in the target's directory.
 * The callback only says "look again": the reader decides whether anything changed.
 */
import { watch, realpathSync, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** Quiet time after the last change before calling back. */
export const DEFAULT_DEBOUNCE_MS = 100;
/** A steady stream of changes still calls back at least this many debounce periods apart. */
const MAX_WAIT_DEBOUNCES = 10;
/** How often to try again to watch a directory whose watcher failed. */
export const DEFAULT_WATCH_RETRY_MS = 1000;

export interface FileWatchOptions {
  readonly debounceMs?: number;
  readonly retryMs?: number;
  /** A directory watcher failed or could not be started again; watching is retried. */
  readonly onWatchError: (message: string) => void;
}

export interface FileWatch {
  /** Stops every watcher and timer; no callback follows. */
  close(): void;
}

/** @throws Error (one line) when the file's directory cannot be watched at all. */
export function watchFileChanges(file: string, onChange: () => void, options: FileWatchOptions): FileWatch {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const retryMs = options.retryMs ?? DEFAULT_WATCH_RETRY_MS;
  const path = resolve(file);
  const primaryDir = dirname(path);
  const watchers = new Map<string, FSWatcher>();
  let names = new Set([basename(path)]);
  let closed = false;
  let debounceTimer: NodeJS.Timeout | undefined;
  let firstPendingAt = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const isRelevant = (name: string | null): boolean =>
    name === null || names.has(name) || name.startsWith('..');

  const schedule = (): void => {
    if (closed) return;
    const now = Date.now();
    if (debounceTimer === undefined) firstPendingAt = now;
    else if (now - firstPendingAt >= debounceMs * MAX_WAIT_DEBOUNCES) return; // let it fire
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(() => {
      debounceTimer = undefined;
      if (closed) return;
      ensureWatching();
      onChange();
    }, debounceMs);
  };

  const scheduleRetry = (): void => {
    if (closed || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (closed) return;
      ensureWatching();
      schedule(); // changes may have been missed while not watching
    }, retryMs);
  };

  const startWatcher = (dir: string): void => {
    const watcher = watch(dir, { persistent: true }, (_event, name) => {
      if (isRelevant(name)) schedule();
    });
    watcher.on('error', (err: NodeJS.ErrnoException) => {
      watcher.close();
      if (watchers.get(dir) === watcher) watchers.delete(dir);
      if (closed) return;
      options.onWatchError(`watching directory ${JSON.stringify(dir)} failed (${err.code ?? err.message}); retrying`);
      scheduleRetry();
    });
    watchers.set(dir, watcher);
  };

  /** Watch the file's directory and, for a symlink, its target's directory. */
  const ensureWatching = (throwIfPrimaryFails = false): void => {
    const wanted = new Set([primaryDir]);
    names = new Set([basename(path)]);
    try {
      const real = realpathSync.native(path);
      wanted.add(dirname(real));
      names.add(basename(real));
    } catch {
      // missing for now (deleted, or being replaced): the directory watch sees it return
    }
    for (const [dir, watcher] of watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (watchers.has(dir)) continue;
      try {
        startWatcher(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        if (dir !== primaryDir) continue; // the symlink target's directory is a bonus
        const hint = code === 'ENOSPC' ? ': raise sysctl fs.inotify.max_user_watches' : '';
        const message = `cannot watch directory ${JSON.stringify(dir)} (${code}${hint})`;
        if (throwIfPrimaryFails) throw new Error(message);
        options.onWatchError(`${message}; retrying`);
        scheduleRetry();
      }
    }
  };

  ensureWatching(true);
  return {
    close(): void {
      closed = true;
      clearTimeout(debounceTimer);
      clearTimeout(retryTimer);
      debounceTimer = undefined;
      retryTimer = undefined;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
