/**
 * The byte stream SSH runs over: ws's stream over the WebSocket, except that the SSH
 * packets written in one event-loop turn leave in one socket write (one syscall) rather
 * than one each. Each packet is still its own WebSocket message, so the peer (ours or the
 * Go tower's) sees nothing new.
 *
 * Why: with 32 keep-alive clients the proxy handles many requests per turn, and each one's
 * SSH packet was a write system call of its own — 13 % of the proxy's CPU (perf). The
 * batch waits at most until the turn's I/O callbacks have run (`setImmediate`).
 *
 * Bounded as before: while a batch waits, the stream's buffer counts it, so SSH's channel
 * writes stop at the stream's high-water mark as they do for a slow socket.
 */
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';

/** `socket`: the connection under `ws`, corked while a batch's frames are written. */
export function webSocketTransport(ws: WebSocket, socket: Duplex): Duplex {
  const stream = createWebSocketStream(ws);
  stream._writev = (chunks, callback) => {
    socket.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i += 1) ws.send(chunks[i]!.chunk);
    ws.send(chunks[last]!.chunk, callback);
    socket.uncork();
  };
  let batching = false;
  const endBatch = () => {
    batching = false;
    stream.uncork();
  };
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]) => {
    if (!batching) {
      batching = true;
      stream.cork();
      setImmediate(endBatch);
    }
    return write(...args);
  }) as typeof stream.write;
  return stream;
}
