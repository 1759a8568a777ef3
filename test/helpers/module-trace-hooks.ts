/**
 * Module hooks (node:module register) that append every URL the ESM loader resolves to
 * a file, once each. Loaded by module-trace.ts; runs on the loader's hooks thread.
 */
import { appendFileSync } from 'node:fs';

let file: string | undefined;
const seen = new Set<string>();

export function initialize(data: { file: string }): void {
  file = data.file;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const result = await next(specifier, context);
  if (file && !seen.has(result.url)) {
    seen.add(result.url);
    appendFileSync(file, `${result.url}\n`);
  }
  return result;
}
