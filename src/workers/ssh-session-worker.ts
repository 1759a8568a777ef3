/**
 * Entry of a data-plane worker thread (started by SshWorkerPool): runs the SSH sessions
 * the main thread hands it, each over a MessagePort of its own (see ssh-worker-session.ts).
 * Control messages arrive on `parentPort`, tagged with the session id.
 */
import { parentPort } from 'node:worker_threads';
import type { FromSshWorker, ToSshWorker } from './ssh-worker-messages.js';
import { WorkerSshSession } from './ssh-worker-session.js';

if (!parentPort) throw new Error('ssh-session-worker.js runs as a worker thread (SshWorkerPool starts it)');
const port = parentPort;
const sessions = new Map<number, WorkerSshSession>();
const post = (message: FromSshWorker) => port.postMessage(message);

port.on('message', (message: ToSshWorker) => {
  switch (message.t) {
    case 'session':
      sessions.set(message.sid, new WorkerSshSession(message, post, () => sessions.delete(message.sid)));
      return;
    case 'verdict':
      return sessions.get(message.sid)?.verdict(message.ok, message.message);
    case 'open': {
      const session = sessions.get(message.sid);
      if (session) return session.open(message.ch, message.target, message.port);
      message.port.close();
      return post({ t: 'opened', sid: message.sid, ch: message.ch, error: 'agent session ended' });
    }
    case 'close':
      return sessions.get(message.sid)?.close();
  }
});
