/**
 * The agent's member-TLS dial (src/actors/agent/member-forwarder.ts) against real TLS
 * servers on 127.0.0.1: verified against the member's CA, HTTP/1.1 only, the member's
 * session resumed on the next dial, and every failure one line naming the step.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { MemberForwarder } from '../../src/actors/agent/member-forwarder.js';
import { createSelfSignedCa, importCa, issueServingCert, type CaPem } from '../../src/pki/index.js';
import { freePort } from '../helpers/free-port.js';
import { nextEvent } from '../helpers/wait.js';

let memberCa: CaPem;
let member: TlsServer;
let stranger: TlsServer;
let silent: NetServer;
const sockets = new Set<Socket>();

const portOf = (server: NetServer) => {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
};
const listen = async <S extends NetServer>(server: S): Promise<S> => {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
};

before(async () => {
  memberCa = await createSelfSignedCa({ commonName: 'member-ca' });
  const serving = await issueServingCert(await importCa(memberCa), { hosts: ['127.0.0.1'] });
  member = await listen(createTlsServer({ cert: serving.certPem, key: serving.keyPem, ALPNProtocols: ['h2', 'http/1.1'] }));
  // A server whose certificate another CA signed.
  const otherCa = await createSelfSignedCa({ commonName: 'other-ca' });
  const foreign = await issueServingCert(await importCa(otherCa), { hosts: ['127.0.0.1'] });
  stranger = await listen(createTlsServer({ cert: foreign.certPem, key: foreign.keyPem }));
  // Accepts TCP and never says a word.
  silent = await listen(createNetServer());
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([member, stranger, silent].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

const forwarder = (port: number) =>
  new MemberForwarder({ kubernetesSvcHost: `127.0.0.1:${port}`, caData: Buffer.from(memberCa.certPem), bearerToken: Buffer.from('t') }, `127.0.0.1:${port}`);

it('a verified connection, HTTP/1.1 only, and the member\'s session resumed on the next dial', async () => {
  const f = forwarder(portOf(member));
  const first = await f.dial(new AbortController().signal);
  assert.equal(first.alpnProtocol, 'http/1.1', 'the member may choose HTTP/2 (the channel carries HTTP/1.1)');
  assert.equal(first.authorized, true);
  // TLS 1.3 sends its session tickets after the handshake.
  if (!first.isSessionReused()) await nextEvent(first, 'session', 'a session ticket');
  first.destroy();
  const second = await f.dial(new AbortController().signal);
  assert.equal(second.isSessionReused(), true, 'the second dial resumed the member\'s session');
  second.destroy();
});

it('a member whose certificate the CA did not sign: one line naming the TLS step, and no connection left', async () => {
  const port = portOf(stranger);
  const closed = nextEvent<TLSSocket>(stranger, 'connection', 'the dial').then((socket) => nextEvent(socket, 'close', 'the connection to close'));
  await assert.rejects(forwarder(port).dial(new AbortController().signal), (error: Error) => {
    assert.match(error.message, new RegExp(`^TLS with 127\\.0\\.0\\.1:${port}: .*(self[- ]signed|unable to verify|certificate)`, 'i'));
    assert.ok(!error.message.includes('\n'));
    return true;
  });
  await closed;
});

it('nothing listening: a dial error', async () => {
  const port = await freePort();
  await assert.rejects(forwarder(port).dial(new AbortController().signal), (error: Error) => {
    assert.match(error.message, new RegExp(`^dial 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    return true;
  });
});

it('aborted while the member never answers the handshake: cancelled, and the connection closed', async () => {
  const abort = new AbortController();
  const accepted = nextEvent<Socket>(silent, 'connection', 'the dial');
  const dialing = forwarder(portOf(silent)).dial(abort.signal);
  const socket = await accepted;
  const closed = nextEvent(socket, 'close', 'the connection to close');
  abort.abort();
  await assert.rejects(dialing, /cancelled/);
  await closed;
});
