/**
 * TLS contexts shared by every user of the same CA and client credentials. A context costs
 * ~30 KB of native memory (the parsed CA store, certificate and key); agent sessions of one
 * member cluster send the same CA and credentials, so they need one between them, not one
 * each. Reference counted: the last release drops it. Keyed by a digest of the material,
 * so the map holds no credential in the clear.
 */
import { createHash } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';

export interface ContextMaterial {
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

export interface ContextLease {
  readonly context: SecureContext;
  /** Give the context back; once per lease (later calls do nothing). */
  release(): void;
}

export class SharedSecureContexts {
  readonly #entries = new Map<string, { readonly context: SecureContext; refs: number }>();

  /** Contexts alive now. */
  get size(): number {
    return this.#entries.size;
  }

  acquire(material: ContextMaterial): ContextLease {
    const { ca, cert, key: privateKey } = used(material);
    const key = digest([ca, cert, privateKey]);
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { context: secureContextOf(material), refs: 0 };
      this.#entries.set(key, entry);
    }
    entry.refs += 1;
    const held = entry;
    let released = false;
    return {
      context: held.context,
      release: () => {
        if (released) return;
        released = true;
        held.refs -= 1;
        if (held.refs === 0 && this.#entries.get(key) === held) this.#entries.delete(key);
      },
    };
  }
}

/** A TLS context of `material` (verify with its CA, present its certificate). */
export function secureContextOf(material: ContextMaterial): SecureContext {
  const { ca, cert, key } = used(material);
  return createSecureContext({ ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) });
}

/** What a context is made of: an empty part is no part; a certificate needs its key and the reverse. */
function used({ ca, cert, key }: ContextMaterial): ContextMaterial {
  const given = (part: Buffer | undefined) => (part?.length ? part : undefined);
  const pair = given(cert) && given(key);
  return { ca: given(ca), cert: pair ? cert : undefined, key: pair ? key : undefined };
}

function digest(parts: ReadonlyArray<Buffer | undefined>): string {
  const hash = createHash('sha256');
  // Each part with its length, so no two different triples give the same input.
  for (const part of parts) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part ? part.length + 1 : 0);
    hash.update(length);
    if (part) hash.update(part);
  }
  return hash.digest('base64');
}
