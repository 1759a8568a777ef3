/**
 * Keep-alive HTTP/1.1 connections to one target, one undici Client each, one request at a
 * time. Kept here rather than in undici's Pool so a request knows whether its connection
 * had served one before: only then may a request that failed be sent again (the member's
 * idle timeout closed the connection as it was reused), as Go's http.Transport does.
 */
import type { EventEmitter } from 'node:events';
import type { Client, Dispatcher } from 'undici';
import type { ResponseRelay } from './response-relay.js';

export class UpstreamPool {
  readonly #openClient: () => Client;
  readonly #maxIdle: number;
  readonly #idle: Client[] = [];
  readonly #busy = new Set<Client>();
  /** Clients whose connection is up: a request sent on one of them is a reuse. */
  readonly #connected = new WeakSet<Client>();
  #destroyed = false;

  constructor(openClient: () => Client, maxIdle: number) {
    this.#openClient = openClient;
    this.#maxIdle = maxIdle;
  }

  /** Send one request: on an idle connection, or a new one when there is none or `fresh`. */
  send(options: Dispatcher.DispatchOptions, relay: ResponseRelay, fresh = false): void {
    const client = (!fresh && this.#idle.pop()) || this.#open();
    this.#busy.add(client);
    relay.sentOn(this.#connected.has(client), (clean) => this.#done(client, clean));
    client.dispatch(options, relay);
  }

  /** The session ended: every connection goes, requests still running on them fail. */
  destroy(): void {
    this.#destroyed = true;
    for (const client of [...this.#idle, ...this.#busy]) void client.destroy();
    this.#idle.length = 0;
    this.#busy.clear();
  }

  #open(): Client {
    const client = this.#openClient();
    client.on('connect', () => this.#connected.add(client));
    client.on('disconnect', () => {
      this.#connected.delete(client);
      // Closed while idle (its idle timeout, or the member's): it is not kept.
      const at = this.#idle.indexOf(client);
      if (at < 0) return;
      this.#idle.splice(at, 1);
      void client.destroy();
    });
    // Errors reach the request's handler; undici's 'error' event (a handler that threw,
    // not in its types) must not take the process down.
    (client as unknown as EventEmitter).on('error', () => {});
    return client;
  }

  /** A connection that answered cleanly is kept for the next request; any other is closed. */
  #done(client: Client, clean: boolean): void {
    this.#busy.delete(client);
    if (clean && !this.#destroyed && this.#connected.has(client) && this.#idle.length < this.#maxIdle) this.#idle.push(client);
    else void client.destroy();
  }
}
