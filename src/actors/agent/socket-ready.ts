/**
 * Wait for a socket the agent dialed inside the member cluster to be ready (`connect`, or
 * `secureConnect` for TLS): on an error or the signal's abort it is destroyed and the
 * promise rejects with one line naming the step that failed — a name that does not
 * resolve, a dial, or the TLS with the target (a member that fails verification).
 */
import type { Socket } from 'node:net';

export function socketReady<S extends Socket>(socket: S, ready: 'connect' | 'secureConnect', target: string, host: string, signal: AbortSignal): Promise<S> {
  return new Promise((resolve, reject) => {
    let connected = false;
    const onConnect = () => (connected = true);
    const onAbort = () => fail(new Error('cancelled'));
    const settle = () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', fail);
    };
    const fail = (error: NodeJS.ErrnoException) => {
      settle();
      socket.destroy();
      // A name that does not resolve is a configuration mistake: say so, not "connect failed".
      const unresolved = error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN';
      reject(new Error(unresolved ? `cannot resolve ${host}` : `${connected && ready === 'secureConnect' ? 'TLS with' : 'dial'} ${target}: ${error.message}`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', onConnect);
    socket.once('error', fail);
    socket.once(ready, () => {
      settle();
      resolve(socket);
    });
  });
}
