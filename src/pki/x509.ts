/**
 * The one import point for @peculiar/x509 in this project: installs the
 * Reflect shim it needs and binds it to Node's webcrypto. Use
 * `import { x509 } from '../pki/x509.js'` rather than importing the package.
 */
import './reflect-shim.js';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
