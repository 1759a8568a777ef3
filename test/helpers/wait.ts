/** Waiting for events in tests: every wait is bounded and fails with what it waited for. */

/** Resolve when `check()` is true, re-checking whenever `subscribe` signals a change. */
export function until(
  check: () => boolean,
  subscribe: (onChange: () => void) => () => void,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const unsubscribe = subscribe(() => {
      if (!check()) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}

/** Resolve with the first emission of `event` on `emitter` (bounded). */
export function nextEvent<T = unknown>(
  emitter: { once(event: string, fn: (value: T) => void): unknown; off(event: string, fn: (value: T) => void): unknown },
  event: string,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onEvent = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    emitter.once(event, onEvent);
  });
}
