/**
 * The one import point for @peculiar/x509 in this project: loads the Reflect metadata
 * polyfill its dependency tsyringe insists on (before the package itself), and binds it
 * to Node's webcrypto. Import `{ x509 }` from here rather than the package.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
