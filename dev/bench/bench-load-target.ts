/** Where a load job sends its requests, and how the runner holds it (shared by the HTTP/1.1 and HTTP/2 jobs). */

export interface LoadTarget {
  /** `http://127.0.0.1:port/path` or `https://…`. */
  readonly url: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** How a running job hears from its parent: `stop` settles when a stream should end. */
export interface LoadControl {
  readonly stop: Promise<void>;
  /** Called once a held job is in its steady state (a stream's body flows, every watch has its first event). */
  readonly ready: () => void;
}
