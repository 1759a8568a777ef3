/**
 * `--inspect URL`: send xstate inspection events of every actor to a WebSocket inspector
 * (e.g. `@statelyai/inspect`'s `createInspectorServer`, which relays them to the Stately
 * inspector UI). Our own adapter instead of the package's WebSocket one: that one keeps
 * reconnecting after stop(), which would keep a stopping proxy or agent alive.
 */
import { createInspector } from '@statelyai/inspect';
import { configure } from 'safe-stable-stringify';
import { WebSocket } from 'ws';
import type { InspectionEvent } from 'xstate';

/** Events kept while the inspector is unreachable; older ones are dropped. */
const MAX_DEFERRED_EVENTS = 200;
const RECONNECT_MS = 5_000;
const stringify = configure({ maximumDepth: 10 });

export interface Inspection {
  readonly inspect: (event: InspectionEvent) => void;
  stop(): void;
}

class InspectorSocket {
  #ws: WebSocket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #deferred: unknown[] = [];

  constructor(private readonly url: string) {}

  start(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.url);
    this.#ws = ws;
    ws.on('open', () => {
      for (const event of this.#deferred.splice(0)) ws.send(stringify(event) ?? 'null');
    });
    ws.on('error', () => {}); // followed by 'close'
    ws.on('close', () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => this.start(), RECONNECT_MS);
      this.#timer.unref();
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#ws?.terminate();
  }

  send(event: unknown): void {
    if (this.#ws?.readyState === WebSocket.OPEN) {
      this.#ws.send(stringify(event) ?? 'null');
      return;
    }
    this.#deferred.push(event);
    if (this.#deferred.length > MAX_DEFERRED_EVENTS) this.#deferred.shift();
  }
}

export function connectInspector(url: string): Inspection {
  const socket = new InspectorSocket(url);
  const inspector = createInspector({ start: () => socket.start(), stop: () => socket.stop(), send: (e) => socket.send(e) });
  inspector.start();
  return {
    inspect: (event) => inspector.inspect.next?.(event),
    stop: () => inspector.stop(),
  };
}
