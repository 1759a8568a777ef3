/**
 * A problem with the `--clusters` file that the user caused and can fix. Its message is
 * one line: which file, which object, what is wrong and how to fix it — never a token.
 * The CLI prints the message (no stack) and exits 2.
 */
export class ClusterFileError extends Error {
  override readonly name = 'ClusterFileError';
}

/**
 * A problem found inside the file, before the file name is known to the code that found
 * it. `where` names the object or document ("object #2 (line 9, name \"beta\")").
 */
export class ClusterFileProblem extends Error {
  override readonly name = 'ClusterFileProblem';
  constructor(
    readonly where: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Short, single-line, length-bounded rendering of a user value for an error message. */
export function describeValue(value: unknown): string {
  const MAX_SHOWN_CHARS = 40;
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}…` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}
