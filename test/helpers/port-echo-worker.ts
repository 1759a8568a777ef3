/**
 * A worker for PortDuplex tests: for each MessagePort it is sent, echoes the bytes back
 * over a PortDuplex on that port and ends when the other side ends. Does nothing when not
 * run as a worker.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { PortDuplex } from '../../src/workers/port-duplex.js';

parentPort?.on('message', (message: { port: MessagePort; windowBytes?: number }) => {
  const stream = new PortDuplex(message.port, message.windowBytes ? { windowBytes: message.windowBytes } : {});
  stream.on('error', () => {});
  stream.pipe(stream);
});
