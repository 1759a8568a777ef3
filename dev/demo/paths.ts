/** Where the demo finds the package (bin/, config/crd/) once compiled to dist/dev/demo/. */
import { fileURLToPath } from 'node:url';

/** The package root: dist/dev/demo/ → ../../.. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
