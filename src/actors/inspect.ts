/**
 * `--inspect URL`: send xstate inspection events of every actor to a WebSocket inspector
 * (e.g. `npx @statelyai/inspect`'s server, which shows them in the Stately inspector UI).
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import type { InspectionEvent } from 'xstate';

export interface Inspection {
  readonly inspect: (event: InspectionEvent) => void;
  stop(): void;
}

export function connectInspector(url: string): Inspection {
  const inspector = createWebSocketInspector({ url });
  return {
    inspect: (event) => inspector.inspect.next?.(event),
    stop: () => inspector.stop(),
  };
}
