/**
 * The proxy→member direction of a member-TLS channel: HTTP/1.1 requests whose heads are
 * rewritten (the proxy's Authorization dropped, the member's credentials and Host set) and
 * whose bodies pass through as they came, byte for byte. Only the framing is read — where
 * a head ends, how long its body is (Content-Length, or chunked with its chunk sizes and
 * trailers) — to find the next head; the member's responses are not parsed at all (the
 * proxy does that). After a `Connection: Upgrade` request the bytes are the upgraded
 * protocol's and pass untouched.
 *
 * Strict where HTTP is ambiguous (RFC 9112 §6.3, §11.2): a request with both
 * Content-Length and Transfer-Encoding, a coding other than chunked, differing lengths, a
 * bare CR or LF or a folded line in a head ends the channel with one line saying why. The
 * requests come from our proxy's HTTP client, which sends none of these; the member must
 * never see a request boundary that differs from the one we found.
 *
 * Bounded by constants: a head (or a trailer section) may be 64 KiB, a chunk-size line
 * 4 KiB; nothing else is held.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Largest request head (and trailer section) accepted; kube-apiserver's own limit is larger, Node's 16 KiB. */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]$/;
const HEAD_END = Buffer.from('\r\n\r\n');
const NO_BYTES = Buffer.alloc(0);

/** The proxy sent something that is not a request we can forward safely. */
export class MalformedRequest extends Error {
  override name = 'MalformedRequest';
}

export interface HeadRewrite {
  /** Replaces the Host header. */
  readonly host: string;
  /** The Authorization header to send (`Bearer …`), or none (a client certificate authenticates). */
  readonly authorization?: string;
}

type State =
  | { readonly kind: 'head' }
  | { readonly kind: 'length'; remaining: number }
  | { readonly kind: 'chunk-size'; line: string }
  | { readonly kind: 'chunk-data'; remaining: number }
  | { readonly kind: 'chunk-end'; seen: number }
  | { readonly kind: 'trailers'; line: string; bytes: number }
  | { readonly kind: 'raw' };

export class RequestHeadRewriter extends Transform {
  #state: State = { kind: 'head' };
  /**
   * A head that has not ended yet: copies of its pieces, joined once when it ends (a head
   * sent a byte at a time costs linear work, not a copy of all so far per byte).
   */
  #pieces: Buffer[] = [];
  #piecesLength = 0;
  #upgrading = false;

  constructor(private readonly rewrite: HeadRewrite) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let offset = 0;
      while (offset < chunk.length) offset = this.#step(chunk, offset);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** Consume what the current state can from `chunk` at `offset`; the new offset. */
  #step(chunk: Buffer, offset: number): number {
    const state = this.#state;
    switch (state.kind) {
      case 'head':
        return this.#head(chunk, offset);
      case 'raw':
        this.push(offset === 0 ? chunk : chunk.subarray(offset));
        return chunk.length;
      case 'length': {
        const take = Math.min(state.remaining, chunk.length - offset);
        this.push(chunk.subarray(offset, offset + take));
        state.remaining -= take;
        if (state.remaining === 0) this.#bodyDone();
        return offset + take;
      }
      default: {
        // Chunked: every byte passes as it came; the scan only finds where the body ends.
        const end = this.#chunked(chunk, offset);
        this.push(chunk.subarray(offset, end));
        return end;
      }
    }
  }

  #head(chunk: Buffer, offset: number): number {
    // The blank line may begin in the pieces held: look from up to 3 bytes back.
    const tail = this.#pieces.length > 0 ? lastBytes(this.#pieces, HEAD_END.length - 1) : NO_BYTES;
    const probe = tail.length > 0 ? Buffer.concat([tail, chunk.subarray(offset)]) : chunk.subarray(offset);
    const found = probe.indexOf(HEAD_END);
    if (found < 0) {
      this.#piecesLength += chunk.length - offset;
      if (this.#piecesLength > MAX_HEAD_BYTES) throw new MalformedRequest(`request head larger than ${MAX_HEAD_BYTES / 1024} KiB`);
      this.#pieces.push(Buffer.from(chunk.subarray(offset))); // a copy: do not pin the chunk
      return chunk.length;
    }
    const end = offset + found - tail.length + HEAD_END.length; // just past the blank line
    if (this.#piecesLength + end - offset > MAX_HEAD_BYTES) throw new MalformedRequest(`request head larger than ${MAX_HEAD_BYTES / 1024} KiB`);
    const head = this.#pieces.length > 0 ? Buffer.concat([...this.#pieces, chunk.subarray(offset, end)]) : chunk.subarray(offset, end);
    this.#pieces = [];
    this.#piecesLength = 0;
    this.push(this.#rewriteHead(head.toString('latin1', 0, head.length - HEAD_END.length)));
    return end;
  }

  /** The head to send for `text` (request line and header lines, without the blank line); sets the body's framing. */
  #rewriteHead(text: string): Buffer {
    if (/\r(?!\n)|(?<!\r)\n|\0/.test(text)) throw new MalformedRequest('request head has a bare CR or LF');
    const lines = text.split('\r\n');
    const requestLine = lines[0]!;
    const request = REQUEST_LINE.exec(requestLine);
    if (!request) throw new MalformedRequest('request line is not "METHOD target HTTP/1.x"');
    if (request[1] === 'CONNECT') throw new MalformedRequest('CONNECT is not forwarded');
    let out = `${requestLine}\r\n`;
    const lengths = new Set<string>();
    let coding: string | undefined;
    let connection = '';
    let upgrade = false;
    for (let i = 1; i < lines.length; i += 1) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) throw new MalformedRequest('request header line is not "name: value"');
      const value = line.slice(colon + 1).trim();
      switch (name.toLowerCase()) {
        case 'authorization':
        case 'host':
          continue; // set below
        case 'content-length':
          lengths.add(value);
          break;
        case 'transfer-encoding':
          coding = coding === undefined ? value : `${coding}, ${value}`;
          break;
        case 'connection':
          connection += `,${value}`;
          break;
        case 'upgrade':
          upgrade = true;
          break;
      }
      out += `${line}\r\n`;
    }
    out += `Host: ${this.rewrite.host}\r\n`;
    if (this.rewrite.authorization) out += `Authorization: ${this.rewrite.authorization}\r\n`;
    this.#upgrading = upgrade && connection.split(',').some((token) => token.trim().toLowerCase() === 'upgrade');
    this.#frameBody(lengths, coding);
    return Buffer.from(`${out}\r\n`, 'latin1');
  }

  #frameBody(lengths: ReadonlySet<string>, coding: string | undefined): void {
    if (coding !== undefined) {
      if (lengths.size > 0) throw new MalformedRequest('request has both Content-Length and Transfer-Encoding');
      if (coding.toLowerCase() !== 'chunked') throw new MalformedRequest('request Transfer-Encoding is not chunked');
      this.#state = { kind: 'chunk-size', line: '' };
      return;
    }
    if (lengths.size > 1) throw new MalformedRequest('request has differing Content-Length headers');
    const [length] = lengths;
    if (length !== undefined && !/^\d{1,15}$/.test(length)) throw new MalformedRequest('request Content-Length is not a number');
    const remaining = length === undefined ? 0 : Number(length);
    if (remaining === 0) this.#bodyDone();
    else this.#state = { kind: 'length', remaining };
  }

  #bodyDone(): void {
    this.#state = this.#upgrading ? { kind: 'raw' } : { kind: 'head' };
  }

  /** Scan a chunked body from `offset`; where this chunk's part of it ends. */
  #chunked(chunk: Buffer, offset: number): number {
    let i = offset;
    while (i < chunk.length) {
      const state = this.#state;
      switch (state.kind) {
        case 'chunk-data': {
          const take = Math.min(state.remaining, chunk.length - i);
          state.remaining -= take;
          i += take;
          if (state.remaining === 0) this.#state = { kind: 'chunk-end', seen: 0 };
          break;
        }
        case 'chunk-end': {
          if (chunk[i] !== (state.seen === 0 ? 0x0d : 0x0a)) throw new MalformedRequest('request chunk does not end with CRLF');
          i += 1;
          state.seen += 1;
          if (state.seen === 2) this.#state = { kind: 'chunk-size', line: '' };
          break;
        }
        case 'chunk-size': {
          const newline = chunk.indexOf(0x0a, i);
          const to = newline < 0 ? chunk.length : newline;
          state.line += chunk.toString('latin1', i, to);
          if (state.line.length > MAX_CHUNK_LINE_BYTES) throw new MalformedRequest('request chunk-size line too long');
          if (newline < 0) return chunk.length;
          i = newline + 1;
          this.#state = chunkSize(state.line);
          break;
        }
        case 'trailers': {
          const newline = chunk.indexOf(0x0a, i);
          const to = newline < 0 ? chunk.length : newline;
          state.line += chunk.toString('latin1', i, to);
          state.bytes += to - i + (newline < 0 ? 0 : 1);
          if (state.bytes > MAX_HEAD_BYTES) throw new MalformedRequest(`request trailers larger than ${MAX_HEAD_BYTES / 1024} KiB`);
          if (newline < 0) return chunk.length;
          i = newline + 1;
          if (!state.line.endsWith('\r') || state.line.slice(0, -1).includes('\r')) throw new MalformedRequest('request trailer has a bare CR or LF');
          if (state.line === '\r') {
            this.#bodyDone();
            return i;
          }
          state.line = '';
          break;
        }
        default:
          return i;
      }
    }
    return i;
  }
}

/** The last `n` bytes held in `pieces` (fewer if they hold fewer). */
function lastBytes(pieces: readonly Buffer[], n: number): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  for (let i = pieces.length - 1; i >= 0 && length < n; i -= 1) {
    const piece = pieces[i]!;
    const take = Math.min(piece.length, n - length);
    parts.unshift(piece.subarray(piece.length - take));
    length += take;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The state after a chunk-size line (`line` without its LF): the chunk's data, or the trailers after the last. */
function chunkSize(line: string): State {
  if (!line.endsWith('\r')) throw new MalformedRequest('request chunk-size line has a bare LF');
  const size = /^([0-9A-Fa-f]{1,12})(?:[ \t]*;[^\r\n]*)?\r$/.exec(line);
  if (!size) throw new MalformedRequest('request chunk size is not hexadecimal');
  const remaining = parseInt(size[1]!, 16);
  return remaining === 0 ? { kind: 'trailers', line: '', bytes: 0 } : { kind: 'chunk-data', remaining };
}
