/**
 * The V8 inspector of a child started with `--inspect=127.0.0.1:0`: force a GC before a
 * memory reading, and run an event-loop-delay histogram inside the child when it serves
 * no metrics. One short WebSocket session per call; nothing stays attached.
 */
import { WebSocket } from 'ws';
import type { BenchChild } from './bench-children.js';

const URL_RE = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/;

/** The inspector URL the child printed, waiting for it at most `timeoutMs`. */
export async function inspectorUrl(child: BenchChild, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = URL_RE.exec(child.stderrTail());
    if (match) return match[1]!;
    if (child.hasExited() || Date.now() > deadline) throw new Error(`${child.name}: no inspector URL on stderr`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function inspectorCall(url: string, method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<unknown> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector ${method}: no answer within ${timeoutMs} ms`)), timeoutMs);
      ws.once('error', (error) => (clearTimeout(timer), reject(error)));
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, method, params })));
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
        if (message.id !== 1) return;
        clearTimeout(timer);
        if (message.error) reject(new Error(`inspector ${method}: ${message.error.message}`));
        else resolve(message.result);
      });
    });
  } finally {
    ws.terminate();
  }
}

export async function collectGarbage(url: string): Promise<void> {
  await inspectorCall(url, 'HeapProfiler.collectGarbage');
}

/** Evaluate `expression` in the child's main context (with `require`); returns its JSON value. */
export async function evaluate(url: string, expression: string): Promise<unknown> {
  const result = (await inspectorCall(url, 'Runtime.evaluate', { expression, includeCommandLineAPI: true, returnByValue: true })) as {
    result?: { value?: unknown };
    exceptionDetails?: { text?: string };
  };
  if (result.exceptionDetails) throw new Error(`inspector evaluate: ${result.exceptionDetails.text ?? 'exception'}`);
  return result.result?.value;
}
