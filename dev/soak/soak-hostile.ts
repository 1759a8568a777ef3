/**
 * `npm run soak -- --hostile`: every attack of the hostile-peer suite (test/hostile/), at
 * full size, against the real bin/proxy and bin/agent on 127.0.0.1 — each in a fresh
 * world — printing the peak RSS and fds of the attacked process and how the good users
 * fared. Nothing is asserted: this is the measuring tool behind docs/security.md's figures
 * (run it on two builds to compare). Flags for the binaries under test pass through.
 *
 *   node dist/dev/soak/soak.js --hostile [--attacks a,b] [--proxy-args "…"] [--agent-args "…"]
 */
import { parseArgs } from 'node:util';
import { describeReport, type AttackReport } from '../../test/helpers/attack-report.js';
import { channelBurst, proxyFloodsBeyondWindow, proxyStopsReadingDuringDownload } from '../../test/helpers/attacks-on-agent.js';
import { continuationFlood, controlFlood, extendedConnect, oversizedHeaders, rapidReset, tooManyStreams } from '../../test/helpers/attacks-http2.js';
import {
  agentFloodsBeyondWindow,
  agentStopsReadingDuringUpload,
  silentSessionsAttack,
  socketFloodAttack,
  tokenStormAttack,
  type FloodTarget,
} from '../../test/helpers/attacks-on-proxy.js';
import { startHostileProxyStage, type HostileProxyStage } from '../../test/helpers/hostile-proxy.js';
import { startHostileWorld, type HostileWorld } from '../../test/helpers/hostile-world.js';
import { MiB } from '../../test/helpers/proc-stats.js';
import type { FloodKind } from '../../test/helpers/socket-floods.js';
import type { TargetKind } from '../../test/helpers/tcp-targets.js';

export const HOSTILE_USAGE = `Usage: npm run soak -- --hostile [flags]

Runs each attack of the hostile-peer suite at full size against the real bin/proxy and
bin/agent (a fresh pair per attack) and prints the attacked process's peak RSS and fds.

  --attacks LIST       comma-separated names (default: all); see the list below
  --proxy-args "…"     extra bin/proxy flags, e.g. "--request-timeout 2s"
  --agent-args "…"     extra bin/agent flags, e.g. "--max-channels 1000"
  --bytes MB           size of the window and upload attacks (default 300)
  --connections N      connections per socket flood (default 2000)
  --sessions N         SSH sessions without config (default 300)
  --channels N         channels in the burst on the agent (default 5000)
  --guesses N          token guesses (default 2000)
  --hold S             how long floods are held at most (default 15)
  --json               one JSON array on stdout

Attacks: `;

interface HostileOptions {
  readonly attacks: readonly string[];
  readonly proxyArgs: readonly string[];
  readonly agentArgs: readonly string[];
  readonly bytes: number;
  readonly connections: number;
  readonly sessions: number;
  readonly channels: number;
  readonly guesses: number;
  readonly holdMs: number;
  readonly json: boolean;
}

type Attack = (o: HostileOptions) => Promise<AttackReport>;

/** Run `attack` against a fresh world, with `extraProxyArgs` on top of the user's. */
const onWorld =
  (attack: (world: HostileWorld, o: HostileOptions) => Promise<AttackReport>, extraProxyArgs: readonly string[] = []): Attack =>
  async (o) => {
    const world = await startHostileWorld({ proxyArgs: [...o.proxyArgs, ...extraProxyArgs] });
    try {
      return await attack(world, o);
    } finally {
      await world.close();
    }
  };

const onStage =
  (kube: TargetKind, ks: TargetKind, attack: (stage: HostileProxyStage, o: HostileOptions) => Promise<AttackReport>): Attack =>
  async (o) => {
    const stage = await startHostileProxyStage({ kube, ks, agentArgs: o.agentArgs });
    try {
      return await attack(stage, o);
    } finally {
      await stage.close();
    }
  };

const flood = (where: 'agent port' | 'ks listener' | 'kube listener', kind: FloodKind): Attack =>
  onWorld((world, o) => {
    const target: FloodTarget =
      where === 'agent port'
        ? { name: where, port: world.proxyPort }
        : where === 'ks listener'
          ? { name: where, port: world.good.ksPort }
          : { name: where, port: world.good.kubePort, tls: { ca: world.ca.certPem, cert: world.client.certPem, key: world.client.keyPem } };
    return socketFloodAttack(world, target, kind, o.connections, o.holdMs);
  });

export const ATTACKS: Readonly<Record<string, Attack>> = {
  'window-flood': onWorld((w, o) => agentFloodsBeyondWindow(w, o.bytes)),
  'window-flood-threads': onWorld((w, o) => agentFloodsBeyondWindow(w, o.bytes), ['--data-plane-threads', '2']),
  'upload-stall': onWorld((w, o) => agentStopsReadingDuringUpload(w, o.bytes)),
  'upload-stall-threads': onWorld((w, o) => agentStopsReadingDuringUpload(w, o.bytes), ['--data-plane-threads', '2']),
  'agent-port-idle': flood('agent port', 'idle'),
  'agent-port-half-open': flood('agent port', 'half-open'),
  'agent-port-slowloris': flood('agent port', 'slowloris'),
  'ks-idle': flood('ks listener', 'idle'),
  'ks-half-open': flood('ks listener', 'half-open'),
  'ks-slowloris': flood('ks listener', 'slowloris'),
  'kube-idle': flood('kube listener', 'idle'),
  'kube-half-open': flood('kube listener', 'half-open'),
  'kube-slowloris': flood('kube listener', 'slowloris'),
  'silent-ssh': onWorld((w, o) => silentSessionsAttack(w, o.sessions, o.holdMs)),
  'token-storm': onWorld((w, o) => tokenStormAttack(w, { maxAttempts: o.guesses, durationMs: 60_000, concurrency: 8 })),
  'proxy-window-flood': onStage('sink', 'holder', (s, o) => proxyFloodsBeyondWindow(s, o.bytes)),
  'proxy-download-stall': onStage('holder', 'firehose', (s, o) => proxyStopsReadingDuringDownload(s, o.holdMs)),
  'channel-burst': onStage('holder', 'holder', (s, o) => channelBurst(s, o.channels)),
  // HTTP/2 on a kube listener (test/hostile/http2-limits.test.ts), at the default limits.
  'h2-streams': onWorld((w) => tooManyStreams(w, 250, 1_000)),
  'h2-headers': onWorld((w) => oversizedHeaders(w, 65 * 1024, 148, { ackSettings: true })),
  'h2-headers-no-ack': onWorld((w) => oversizedHeaders(w, 65 * 1024, 148, { ackSettings: false })),
  'h2-ping-flood': onWorld((w) => controlFlood(w, 'PING', 2_000_000)),
  'h2-settings-flood': onWorld((w) => controlFlood(w, 'SETTINGS', 2_000_000)),
  'h2-rapid-reset': onWorld((w) => rapidReset(w, 20_000)),
  'h2-continuation': onWorld((w) => continuationFlood(w, 10_000)),
  'h2-extended-connect': onWorld((w) => extendedConnect(w)),
};

export async function runHostileSoak(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      hostile: { type: 'boolean' },
      attacks: { type: 'string' },
      'proxy-args': { type: 'string', default: '' },
      'agent-args': { type: 'string', default: '' },
      bytes: { type: 'string', default: '300' },
      connections: { type: 'string', default: '2000' },
      sessions: { type: 'string', default: '300' },
      channels: { type: 'string', default: '5000' },
      guesses: { type: 'string', default: '2000' },
      hold: { type: 'string', default: '15' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HOSTILE_USAGE}${Object.keys(ATTACKS).join(', ')}\n`);
    return 0;
  }
  const count = (flag: string, text: string, max: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${flag} ${text}: must be an integer in 1-${max}`);
    return n;
  };
  const words = (text: string) => text.split(/\s+/).filter(Boolean);
  const attacks = values.attacks ? values.attacks.split(',').map((a) => a.trim()) : Object.keys(ATTACKS);
  const unknown = attacks.filter((a) => !(a in ATTACKS));
  if (unknown.length > 0) throw new Error(`--attacks: unknown ${unknown.join(', ')}; known: ${Object.keys(ATTACKS).join(', ')}`);
  const o: HostileOptions = {
    attacks,
    proxyArgs: words(values['proxy-args']),
    agentArgs: words(values['agent-args']),
    bytes: count('bytes', values.bytes, 100_000) * MiB,
    connections: count('connections', values.connections, 15_000),
    sessions: count('sessions', values.sessions, 10_000),
    channels: count('channels', values.channels, 50_000),
    guesses: count('guesses', values.guesses, 1_000_000),
    holdMs: count('hold', values.hold, 3_600) * 1000,
    json: values.json,
  };
  const reports: Array<AttackReport | { attack: string; error: string }> = [];
  for (const name of o.attacks) {
    process.stderr.write(`soak: hostile: ${name}…\n`);
    try {
      const report = await ATTACKS[name]!(o);
      reports.push(report);
      if (!o.json) process.stdout.write(`${name}: ${describeReport(report)}\n`);
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      reports.push({ attack: name, error: message });
      if (!o.json) process.stdout.write(`${name}: FAILED to run: ${message}\n`);
    }
  }
  if (o.json) process.stdout.write(`${JSON.stringify(reports)}\n`);
  return reports.some((r) => 'error' in r) ? 1 : 0;
}
