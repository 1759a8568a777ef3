/**
 * `--clusters FILE`: a ClusterSource read from a YAML or JSON file of Cluster objects, so
 * the proxy runs without Kubernetes. Edits take effect without a restart; an invalid edit
 * keeps the previous set and is reported (warn) as one line.
 *
 * While running, a zero-byte file is taken for a write in progress and ignored (write
 * `[]` to serve no clusters). Best practice is still to replace the file atomically
 * (write a temporary file, then rename it over), as editors and ConfigMap volumes do.
 */
import type { ClusterSource, ClusterSourceEvent, ServedCluster } from './cluster-source.js';
import { ClusterFileError } from './cluster-file-error.js';
import { diffClusters } from './cluster-diff.js';
import { clusterFileLabel, parseClusters, type ParsedClusters } from './parse-clusters.js';
import { readClusterFile } from './read-cluster-file.js';
import { watchFileChanges } from './watch-file.js';

/** The part of a pino logger this module uses. */
export interface ClusterFileLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  /** Optional: re-reads that changed nothing. */
  debug?(obj: object, msg: string): void;
}

export interface ClusterFileOptions {
  readonly logger?: ClusterFileLogger;
  /** Quiet time after the last change before re-reading; default DEFAULT_DEBOUNCE_MS (100 ms). */
  readonly debounceMs?: number;
}

type Listener = (event: ClusterSourceEvent) => void;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Reads, validates and starts watching `file`.
 * @throws ClusterFileError (one line, no token) when the file is unreadable or invalid,
 *   or its directory cannot be watched.
 */
export async function openClusterFile(file: string, options: ClusterFileOptions = {}): Promise<ClusterSource> {
  const { logger } = options;
  const logFields = { clustersFile: file };
  const listeners = new Set<Listener>();
  let current: ReadonlyMap<string, ServedCluster> = new Map();
  let lastText: string | undefined;
  let lastReadProblem: string | undefined;
  let started = false;
  let changedWhileStarting = false;
  let closed = false;
  let reloading: Promise<void> | undefined;
  let reloadAgain = false;

  const emit = (event: ClusterSourceEvent): void => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (err) {
        logger?.warn({ ...logFields, err: messageOf(err) }, 'a cluster source listener threw');
      }
    }
  };

  /** A file that cannot be used right now: say so once, keep the previous set. */
  const reportRead = (message: string): void => {
    lastText = undefined;
    if (closed || message === lastReadProblem) return;
    lastReadProblem = message;
    logger?.warn({ ...logFields, kept: current.size }, `${message} (keeping the previous clusters)`);
  };

  const reloadOnce = async (): Promise<void> => {
    let text: string;
    try {
      text = await readClusterFile(file);
    } catch (err) {
      reportRead(messageOf(err));
      return;
    }
    if (text === '') {
      // Likely caught between truncate and write; an empty set must be asked for explicitly.
      reportRead(`${clusterFileLabel(file)}: is empty; write [] to serve no clusters`);
      return;
    }
    lastReadProblem = undefined;
    if (closed) return;
    if (text === lastText) {
      logger?.debug?.(logFields, 'clusters file re-read: content unchanged');
      return;
    }
    lastText = text;
    let parsed: ParsedClusters;
    try {
      parsed = parseClusters(text, file);
    } catch (err) {
      logger?.warn({ ...logFields, kept: current.size }, `${messageOf(err)} (keeping the previous clusters)`);
      return;
    }
    const events = diffClusters(current, parsed.served);
    current = parsed.served;
    if (events.length === 0) {
      logger?.debug?.(logFields, 'clusters file re-read: no cluster changed');
      return;
    }
    logger?.info({ ...logFields, ...summarize(events, parsed) }, 'clusters file changed');
    for (const event of events) {
      if (closed) return;
      emit(event);
    }
  };

  const requestReload = (): void => {
    if (closed) return;
    if (!started) {
      changedWhileStarting = true;
      return;
    }
    if (reloading) {
      reloadAgain = true;
      return;
    }
    reloading = (async () => {
      try {
        do {
          reloadAgain = false;
          await reloadOnce();
        } while (reloadAgain && !closed);
      } catch (err) {
        logger?.warn({ ...logFields, err: messageOf(err) }, `${clusterFileLabel(file)}: reload failed`);
      } finally {
        reloading = undefined; // in the same turn as the last check of reloadAgain
      }
    })();
  };

  let watch: ReturnType<typeof watchFileChanges>;
  try {
    watch = watchFileChanges(file, requestReload, {
      ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
      onWatchError: (message) => logger?.warn(logFields, `${clusterFileLabel(file)}: ${message}`),
    });
  } catch (err) {
    throw new ClusterFileError(`${clusterFileLabel(file)}: ${messageOf(err)}; check the --clusters path`);
  }
  try {
    lastText = await readClusterFile(file);
    const parsed = parseClusters(lastText, file);
    current = parsed.served;
    logger?.info({ ...logFields, ...summarize([], parsed) }, 'clusters file loaded');
  } catch (err) {
    watch.close();
    throw err;
  }
  started = true;
  if (changedWhileStarting) requestReload();

  return {
    snapshot: () => current,
    subscribe(listener: Listener): () => void {
      const own = (event: ClusterSourceEvent): void => listener(event); // each call its own entry
      listeners.add(own);
      return () => {
        listeners.delete(own);
      };
    },
    async close(): Promise<void> {
      closed = true;
      watch.close();
      listeners.clear();
      await reloading;
    },
  };
}

/** Names only: what a log line may say about a change (never tokens). */
function summarize(events: readonly ClusterSourceEvent[], parsed: ParsedClusters): Record<string, unknown> {
  const upserted = events.flatMap((e) => (e.type === 'cluster.upsert' ? [e.cluster.name] : []));
  const removed = events.flatMap((e) => (e.type === 'cluster.remove' ? [e.name] : []));
  return {
    served: parsed.served.size,
    ...(upserted.length > 0 ? { upserted } : {}),
    ...(removed.length > 0 ? { removed } : {}),
    ...(parsed.skipped.length > 0 ? { skipped: parsed.skipped.map((s) => `${s.name}: ${s.reason}`) } : {}),
  };
}
