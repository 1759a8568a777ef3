/** Request-body reading with the 3 MiB limit, and JSON / Status responses. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Json, JsonObject } from './types.js';
import { ApiError, errors } from './types.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Read the whole body; over the limit is a 413 (and the connection is not reused). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(errors.tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(errors.tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(errors.badRequest(`reading request body: ${e.message}`));
      failed = true;
    });
  });
}

export function sendJson(res: ServerResponse, code: number, body: Json, contentType = 'application/json'): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const apiErr = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
  if (apiErr.code === 413) res.setHeader('Connection', 'close');
  sendJson(res, apiErr.code, apiErr.toStatus());
}

export function statusSuccess(details?: JsonObject): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', ...(details ? { details } : {}) };
}
