/**
 * ssh2 runs SSH's ciphers in its native binding when npm built it for the running Node
 * (ssh2's install script needs a C++ compiler; a Node upgraded after the install makes the
 * build unusable). Without it they run through Node's crypto from JavaScript and still
 * work, more slowly — worth one line in the log, since nothing else would tell.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The log line's text when the binding is missing, or undefined when ssh2 uses it. */
export function sshCryptoBindingMissing(): string | undefined {
  const { bindingAvailable } = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
  if (bindingAvailable) return undefined;
  return `ssh2's native crypto binding is not built for this Node (${process.version}): SSH encryption runs in JavaScript, with fewer requests per second and more CPU per GB; rebuild it with \`npm rebuild ssh2\` (needs a C++ compiler and make)`;
}
