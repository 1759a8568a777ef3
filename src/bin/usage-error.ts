/** A mistake in how the program was started: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Print `error` as one line and exit: 2 for the user's mistakes, 1 otherwise. */
export function exitWithError(program: string, error: unknown, usage: (e: unknown) => boolean): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${program}: ${message.split('\n')[0]}\n`);
  process.exit(usage(error) ? 2 : 1);
}
