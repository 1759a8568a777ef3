/**
 * An error a user can cause with PKI input (a bad file, a mismatched key).
 * Its message is one line: what is wrong, where, and how to fix it. It never
 * carries key material.
 */
export class PkiError extends Error {
  override readonly name = 'PkiError';

  constructor(message: string) {
    // Keep it one line even if a path contains a newline.
    super(message.replace(/[\r\n]+/g, ' '));
  }
}
