/**
 * Loaded into the demo's children with `node --import` (see child.ts): the demo hands each
 * child the read end of a pipe as file descriptor 3 and never writes to it. When the demo
 * ends — however it ends, `kill -9` included — the kernel closes the other end, the read
 * ends, and the child stops itself with SIGTERM (its own clean shutdown), or exits 1 if
 * that takes more than 5 s. The child keeps running only as long as the demo does.
 */
import { Socket } from 'node:net';

const PARENT_FD = 3;

function parentGone(): void {
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 5_000).unref();
}

try {
  const pipe = new Socket({ fd: PARENT_FD, readable: true, writable: false });
  pipe.on('data', () => {}); // nothing is ever sent; read so that the end is seen
  pipe.once('end', parentGone);
  pipe.once('error', parentGone);
  pipe.unref(); // the watch alone never keeps the child running
} catch {
  // Started without the pipe (by hand): nothing to watch.
}
