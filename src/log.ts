/** pino loggers for the executables: JSON by default, human-readable when asked. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** klog-style `--v N` onto pino levels: 0–3 info, 4–5 debug, 6+ trace. */
export function levelForVerbosity(v: number): 'info' | 'debug' | 'trace' {
  if (v >= 6) return 'trace';
  if (v >= 4) return 'debug';
  return 'info';
}

export interface LoggerOptions {
  readonly name: string;
  readonly verbosity: number;
  /** A pino level instead of `verbosity` (the devcluster's `--log-level`). */
  readonly level?: pino.LevelWithSilent;
  /** Human-readable lines (pino-pretty) instead of JSON. */
  readonly pretty?: boolean;
  /** Destination; standard error by default, so standard output stays for data. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? levelForVerbosity(options.verbosity);
  // Field names that must never carry a secret into a line, wherever they appear.
  const redact = {
    paths: ['token', 'Token', 'bearerToken', 'keyData', 'certData', 'kubeconfig', '*.token', '*.bearerToken', '*.keyData'],
    censor: '[redacted]',
  };
  if (options.pretty) {
    // On the main thread, not as a worker transport: no extra thread, and no exit held up
    // (10 s) flushing a worker whose standard error is a closed pipe.
    const stream = pretty({ destination: 2, sync: true, colorize: false, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
    return pino({ name: options.name, level, redact }, stream);
  }
  const destination = options.destination ?? pino.destination({ fd: 2, sync: false });
  return pino({ name: options.name, level, redact }, destination as pino.DestinationStream);
}

/** A logger that drops everything (library use, tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
