/**
 * The bins' inspection: `--inspect URL` (Stately's inspector over WebSocket) and
 * `--debug-address HOST:PORT` (the built-in page, src/debug/), either or both. Each is
 * loaded only when asked for, so a process without the flags never pays for them.
 */
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../log.js';
import type { ListenAddress } from './listen-address.js';
import { UsageError } from './usage-error.js';

export interface InspectionOptions {
  readonly inspectUrl?: string | undefined;
  readonly debugAddress?: ListenAddress | undefined;
  /** Shown on the debug page. */
  readonly processName: string;
  readonly logger: Logger;
}

export interface Inspection {
  /** Undefined when neither is asked for: actors then run without an inspect callback. */
  readonly inspect: ((event: InspectionEvent) => void) | undefined;
  stop(): Promise<void>;
}

export async function startInspection(options: InspectionOptions): Promise<Inspection> {
  const sinks: Array<(event: InspectionEvent) => void> = [];
  const stops: Array<() => Promise<void> | void> = [];
  if (options.debugAddress) {
    const { startDebugServer } = await import('../debug/debug-server.js');
    const { host, port } = options.debugAddress;
    const server = await startDebugServer({ host, port, processName: options.processName }).catch((error: Error) => {
      throw new UsageError(`--debug-address ${host}:${port}: ${error.message}`);
    });
    options.logger.info({ url: server.url }, `Inspector page at ${server.url}`);
    sinks.push(server.inspect);
    stops.push(() => server.stop());
  }
  if (options.inspectUrl) {
    const { connectInspector } = await import('../actors/inspect.js');
    const stately = connectInspector(options.inspectUrl);
    sinks.push(stately.inspect);
    stops.push(() => stately.stop());
  }
  const [only] = sinks;
  return {
    inspect: sinks.length > 1 ? (event) => sinks.forEach((sink) => sink(event)) : only,
    stop: async () => {
      for (const stop of stops) await stop();
    },
  };
}
