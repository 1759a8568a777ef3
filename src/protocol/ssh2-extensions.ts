/**
 * Types for what our patch to ssh2 1.17 adds (patches/ssh2+1.17.0.patch, explained in
 * docs/ssh2-patch.md): a verbatim identification line, the Go tower's `SSH-kubesphere-v1-*`
 * peers, channels of our own type with raw open data, and global requests of our own
 * with a failure message.
 */
import type { ClientChannel, ServerChannel } from 'ssh2';

export interface CustomChannelInfo {
  readonly type: string;
  /** Raw type-specific data of the CHANNEL_OPEN (for `kubesphere`: `host:port`). */
  readonly data: Buffer | undefined;
}

declare module 'ssh2' {
  interface ConnectConfig {
    /** Whole identification line sent verbatim (no `SSH-2.0-` prefix added). */
    identRaw?: string | Buffer;
  }
  interface ServerConfig {
    /** Whole identification line sent verbatim (no `SSH-2.0-` prefix added). */
    identRaw?: string | Buffer;
  }
  interface Client {
    /** Send a global request; `ok` is the peer's answer, `data` the bytes after it. */
    globalRequest(
      name: string,
      data: Buffer | undefined,
      cb?: (err: Error | undefined, ok?: boolean, data?: Buffer | null) => void,
    ): this;
    on(
      event: 'custom channel',
      listener: (
        info: CustomChannelInfo,
        accept: () => ClientChannel,
        /** Refuse the open; `reason` an RFC 4254 §5.1 code (default: connect failed), with a description. */
        reject: (reason?: number, description?: string) => void,
      ) => void,
    ): this;
  }
  interface Connection {
    /** Open a channel of our own type with raw open data. */
    openCustomChannel(type: string, data: Buffer, cb: (err: Error | undefined, channel: ServerChannel) => void): this;
    on(
      event: 'custom request',
      listener: (
        accept: ((data?: Buffer) => void) | undefined,
        reject: ((message?: Buffer) => void) | undefined,
        name: string,
        data: Buffer | undefined,
      ) => void,
    ): this;
  }
}
