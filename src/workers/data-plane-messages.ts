/**
 * The messages between the proxy's main thread and a data-plane worker thread (see
 * data-plane-pool.ts). Control travels on the worker's own port, tagged with the session;
 * bytes travel on MessagePorts of their own (PortDuplex): one per session for the SSH
 * connection, one per `kubesphere` channel.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SessionLogLevel } from '../ssh/server-session.js';

/** Main thread → worker. */
export type ToDataPlane =
  /** A new agent connection: run an SSH server over the bytes on `socket`. */
  | {
      readonly t: 'session';
      readonly sid: number;
      readonly socket: MessagePort;
      readonly hostKey: Uint8Array;
      readonly keepaliveIntervalMs: number;
      readonly keepaliveCountMax: number;
    }
  /** The answer to the session's `config` request: accept, or reject with `message`. */
  | { readonly t: 'verdict'; readonly sid: number; readonly ok: boolean; readonly message?: string }
  /** Open a `kubesphere` channel to `target`; its bytes go over `port`. */
  | { readonly t: 'open'; readonly sid: number; readonly ch: number; readonly target: string; readonly port: MessagePort }
  /** End the session (the agent-session machine's `close`, or the actor stopped). */
  | { readonly t: 'close'; readonly sid: number };

/** Worker → main thread. */
export type FromDataPlane =
  | { readonly t: 'ready'; readonly sid: number }
  /** The agent's `config` request payload, for the main thread to verify. */
  | { readonly t: 'config'; readonly sid: number; readonly payload: Uint8Array }
  /** A channel open finished: `error` says why the agent refused it. */
  | { readonly t: 'opened'; readonly sid: number; readonly ch: number; readonly error?: string }
  /** The SSH connection is gone, and why (once per session). */
  | { readonly t: 'closed'; readonly sid: number; readonly reason: string }
  /** A line for the session's logger (never a secret). */
  | {
      readonly t: 'log';
      readonly sid: number;
      readonly level: SessionLogLevel;
      readonly message: string;
      readonly fields: Readonly<Record<string, string | number | boolean>>;
    };
