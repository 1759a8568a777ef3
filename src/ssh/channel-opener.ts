/**
 * How a proxy session asks its agent for a `kubesphere` channel, whichever thread runs
 * the SSH connection: inline it is ssh2's `openCustomChannel`, in a data-plane worker a
 * request to the worker answered with a stream over a MessagePort.
 */
import type { Duplex } from 'node:stream';

/**
 * Open a channel to `target` (`host:port`). On refusal `error.message` says why in words
 * (the agent's description, or the SSH reason code's name).
 */
export type ChannelOpener = (target: string, done: (error: Error | undefined, stream?: Duplex) => void) => void;
