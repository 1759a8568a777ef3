/** What must hold after a soak run, each with a line saying what was seen. */
import type { Invariant, SoakResult } from './soak-report.js';

type Facts = Omit<SoakResult, 'invariants' | 'ok'> & {
  readonly reconnectError: string | undefined;
  readonly drainError: string | undefined;
};

export function checkInvariants(r: Facts): Invariant[] {
  const out: Invariant[] = [];
  const check = (name: string, ok: boolean, detail: string) => out.push({ name, ok, detail });
  const q = r.requests;
  const pendingKinds = Object.entries(q.pendingKinds).map(([k, n]) => `${k} ${n}`).join(', ');
  check('no request hung', q.pending === 0, q.pending === 0 ? `all ${q.started} requests settled` : `${q.pending} requests never settled (${pendingKinds})`);
  const timeouts = q.failedByReason['timeout'] ?? 0;
  check('no request ran into its timeout', timeouts === 0, timeouts === 0 ? 'none' : `${timeouts} requests got no answer within the request timeout`);
  const unclear = Object.entries(q.failedByReason).filter(([reason]) => reason.startsWith('bug:'));
  check('every failure has a reason', unclear.length === 0, unclear.length === 0 ? 'yes' : unclear.map(([k, n]) => `${k} ×${n}`).join('; '));
  check('some requests ok', q.ok > 0, `${q.ok} of ${q.started}`);
  check('every agent came back', r.reconnectError === undefined, r.reconnectError ?? `all ${r.agents} connected ${r.reconnectSeconds?.toFixed(2)} s after the load stopped`);
  const before = r.end.proxyBeforeStop;
  check(
    'proxy released every session and channel once the agents left',
    r.drainError === undefined,
    r.drainError ?? `${before?.sessions ?? 0} sessions, ${before?.channelsOpen ?? 0} channels, ${before?.clustersConnected ?? 0} clusters connected`,
  );
  const after = r.end.proxyAfterStop;
  const afterOk = after !== null && after.sessions === 0 && after.gateways === 0 && after.channelsOpen === 0 && (after.exitCode === undefined || after.exitCode === 0);
  check(
    'stopped proxy holds nothing',
    afterOk,
    after ? `${after.sessions} sessions, ${after.gateways} gateways, ${after.channelsOpen} channels${after.exitCode === undefined ? '' : `, exit ${after.exitCode}`}` : 'the proxy was not running at the end',
  );
  if (r.end.actors) {
    const a = r.end.actors;
    check(
      'no live actors',
      a.live === 0,
      a.live === 0 ? `${a.created} created, all ended` : `${a.live} of ${a.created} still live: ${Object.entries(a.liveByKind).map(([k, n]) => `${k} ${n}`).join(', ')} (${a.liveIds.join(', ')})`,
    );
  }
  check('upstream connections closed', r.end.upstreamSockets === 0, `${r.end.upstreamSockets} open after the agents closed`);
  check('simulated agents released', r.end.sims.connected === 0 && r.end.sims.channelsOpen === 0, `${r.end.sims.connected} connected, ${r.end.sims.channelsOpen} channels`);
  const grown = Object.entries(r.end.resourcesDiff).filter(([, d]) => d > 0);
  check(
    'active resources back to the baseline',
    grown.length === 0,
    grown.length === 0 ? 'sockets, servers and timers as before the run' : grown.map(([type, d]) => `${type} +${d}`).join(', '),
  );
  const f = r.faultsInjected;
  if (f) {
    check('proxy restarts were clean', f.restartProblems === 0, f.restartProblems === 0 ? `${f.restarts} restarts` : `${f.restartProblems} problems (see notes)`);
    check('bad inputs refused', f.unexpectedProbes === 0, f.unexpectedProbes === 0 ? 'each as expected' : `${f.unexpectedProbes} unexpected outcomes (see notes)`);
    if (r.sessionEnds) {
      const drops = r.sessionEnds['keepalive timeout'] ?? 0;
      check('stalled agents dropped by keepalive', drops >= f.cleanStalls, `${drops} keepalive drops for ${f.cleanStalls} stalls without a restart meanwhile`);
    }
  }
  check('no uncaught errors', r.errors.length === 0, r.errors.length === 0 ? 'none' : r.errors.slice(0, 3).join(' | '));
  return out;
}
