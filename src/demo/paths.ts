/** Where the demo finds the package (bin/, config/crd/) once compiled to dist/src/demo/. */
import { fileURLToPath } from 'node:url';

/** The package root: dist/src/demo/ → ../../.. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
