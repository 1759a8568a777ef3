/**
 * The stage of attacks on the agent: the real bin/agent connected to a proxy that breaks
 * the rules (the fake proxy, driven by the test), with its two targets — the "kube-apiserver"
 * and the "ks-apiserver" — played by TCP servers of a chosen behaviour (tcp-targets.ts).
 * The proxy may flood a channel beyond the window the agent granted, grant the agent a
 * ~4 GiB window and stop reading, or open thousands of channels.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, ServerChannel } from 'ssh2';
import { describeExit, ManagedChild } from '../../dev/demo/child.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { startFakeProxy, type FakeProxy } from './fake-proxy.js';
import { floodChannel, grantHugeWindow } from './ssh-wire.js';
import { startTcpTarget, type TargetKind, type TcpTarget } from './tcp-targets.js';

export interface HostileProxyStage {
  readonly fake: FakeProxy;
  readonly agent: ManagedChild;
  readonly kube: TcpTarget;
  readonly ks: TcpTarget;
  /**
   * The agent's SSH connection once its config was accepted (the next one, after a
   * reconnect); rejects if the agent exits or does not come within 20 s.
   */
  nextConnection(): Promise<Connection>;
  /** Open a channel to the agent's kube or ks target. */
  open(connection: Connection, target: 'kube' | 'ks'): Promise<ServerChannel>;
  /** Send `total` bytes on `channel` whatever the agent's window; returns bytes sent. */
  flood(connection: Connection, channel: ServerChannel, total: number, timeoutMs: number): Promise<number>;
  grantHugeWindow(connection: Connection, channel: ServerChannel): void;
  /** Read nothing more from the agent. */
  stopReading(connection: Connection): void;
  /** Drop the connection at once (TCP closed, no goodbye). */
  drop(connection: Connection): void;
  close(): Promise<void>;
}

export interface HostileProxyOptions {
  readonly kube: TargetKind;
  readonly ks: TargetKind;
  /** Extra bin/agent flags (e.g. --max-channels 100). */
  readonly agentArgs?: readonly string[];
}

const AGENT = join(PACKAGE_ROOT, 'bin', 'agent');

export async function startHostileProxyStage(options: HostileProxyOptions): Promise<HostileProxyStage> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'tower-hostile-proxy-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const kube = await startTcpTarget(options.kube);
    cleanups.push(() => kube.close());
    const ks = await startTcpTarget(options.ks);
    cleanups.push(() => ks.close());
    const fake = await startFakeProxy();
    cleanups.push(() => fake.close());
    // Credentials the agent sends along; nothing here checks them.
    const ca = await createSelfSignedCa({ commonName: 'member-ca' });
    const kubeconfig = join(dir, 'member.kubeconfig');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: m, cluster: {server: "https://${kube.address}", certificate-authority-data: ${Buffer.from(ca.certPem).toString('base64')}}}]`,
        'users: [{name: a, user: {token: member-token-not-checked}}]',
        'contexts: [{name: m, context: {cluster: m, user: a}}]',
        'current-context: m',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const agent = new ManagedChild({
      name: 'agent',
      command: process.execPath,
      args: [
        AGENT,
        '--name', 'victim',
        '--token', 'victim-token-0123456789',
        '--proxy-server', `http://127.0.0.1:${fake.port}`,
        '--kubeconfig', kubeconfig,
        '--kubesphere-service', ks.address,
        '--max-retry-interval', '1s',
        ...(options.agentArgs ?? []),
      ],
      cwd: PACKAGE_ROOT,
    });
    cleanups.push(() => agent.stop(3000));
    const transport = (connection: Connection) => {
      const t = fake.transportOf(connection);
      if (!t) throw new Error('unknown connection');
      return t;
    };
    return {
      fake,
      agent,
      kube,
      ks,
      nextConnection: () => nextConnection(fake, agent),
      open: (connection, target) => fake.openChannel(connection, target === 'kube' ? kube.address : ks.address),
      flood: (connection, channel, total, timeoutMs) => floodChannel(connection, channel, transport(connection).stream, total, { timeoutMs }),
      grantHugeWindow: (connection, channel) => grantHugeWindow(connection, channel),
      stopReading: (connection) => transport(connection).ws.pause(),
      drop: (connection) => transport(connection).ws.terminate(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

const CONNECT_TIMEOUT_MS = 20_000;

function nextConnection(fake: FakeProxy, agent: ManagedChild): Promise<Connection> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the agent did not connect within ${CONNECT_TIMEOUT_MS} ms:\n${agent.tail(5)}`)), CONNECT_TIMEOUT_MS);
    void agent.exited.then((exit) => reject(new Error(`bin/agent exited (${describeExit(exit)}):\n${agent.tail(5)}`)));
  });
  return Promise.race([fake.nextAgent(), gaveUp]).finally(() => clearTimeout(timer));
}
