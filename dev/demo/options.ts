/** `npm start -- [--inspect] [--dir DIR]`: the demo's flags, mistakes as one line (exit 2). */
import { parseArgs } from 'node:util';

export interface DemoOptions {
  /** Serve the built-in inspector page of the proxy and of the agent, and print their URLs. */
  readonly inspect: boolean;
  /** Working files (and config_alpha) here instead of .tower-run/ and the package root. */
  readonly dir: string | undefined;
}

export const DEMO_USAGE = `Usage: npm start [-- --inspect] [-- --dir DIR]

The seed README's walkthrough on one machine: two devclusters, the real bin/proxy,
bin/agent and kubectl, a ks-apiserver stand-in. Runs until Ctrl-C or SIGTERM.

  --inspect   serve the built-in inspector of the proxy and of the agent on 127.0.0.1
              and print their URLs (open them in a browser)
  --dir DIR   keep the working files, the lock and config_alpha in DIR
              (default: .tower-run/, and config_alpha next to package.json)
  --help      show this help
`;

export class DemoUsageError extends Error {}

/** The options, or undefined for --help; throws DemoUsageError for a mistake. */
export function parseDemoOptions(argv: readonly string[]): DemoOptions | undefined {
  let values: { inspect?: boolean; dir?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { inspect: { type: 'boolean' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]!.replace(/\. To specify.*$/, '') : String(error);
    throw new DemoUsageError(`${message}; see npm start -- --help`);
  }
  if (values.help) return undefined;
  if (values.dir === '') throw new DemoUsageError('--dir needs a directory; see npm start -- --help');
  return { inspect: values.inspect === true, dir: values.dir };
}
