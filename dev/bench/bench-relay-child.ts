/**
 * Child-process entry of the delaying relay (bench-relay.ts), so its copying and timers
 * do not share the bench's event loop. Reads RelayOptions (one JSON line) from stdin,
 * writes `{"port":N}` once listening; when stdin ends, writes its RelayStats and exits.
 */
import { createInterface } from 'node:readline';
import { startRelay, type Relay, type RelayOptions } from './bench-relay.js';

let relay: Relay | undefined;
const lines = createInterface({ input: process.stdin });
lines.once('line', (line) => {
  startRelay(JSON.parse(line) as RelayOptions).then(
    (started) => {
      relay = started;
      process.stdout.write(`${JSON.stringify({ port: started.port })}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`bench-relay: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
});
lines.on('close', () => {
  const done = relay;
  if (!done) process.exit(0);
  process.stdout.write(`${JSON.stringify(done.stats())}\n`);
  void done.close().then(() => process.exit(0));
});
