/**
 * HTTP/2 attacks on a kube listener of the real bin/proxy of a hostile world, by a client
 * holding a valid certificate (HTTP/2 starts only after the TLS client check): more streams
 * than allowed, header lists over the limits, floods of PING, SETTINGS, RST_STREAM and
 * CONTINUATION, extended CONNECT unasked. Each is measured as the other attacks are (peak
 * RSS and fds of the proxy; the good clients probed meanwhile, an HTTP/2 one on its own
 * connection to the same listener among them). The caller asserts.
 */
import { probeWhile, type AttackReport } from './attack-report.js';
import { connectH2, type H2Client } from './h2-client.js';
import {
  connectRawH2,
  FLAG,
  FRAME,
  frame,
  getFields,
  headerBlock,
  rstFrame,
  settingsFrame,
  type RawH2,
  type RawH2Options,
} from './h2-frames.js';
import type { HostileWorld } from './hostile-world.js';
import { watchProc } from './proc-stats.js';
import { firstOf } from './ssh-wire.js';

type Facts = Record<string, number | string | boolean>;

/** RST_STREAM and GOAWAY error codes (RFC 9113 §7). */
export const H2_ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, ENHANCE_YOUR_CALM: 11 } as const;

const END = FLAG.END_HEADERS | FLAG.END_STREAM;

async function h2Attack(
  world: HostileWorld,
  attack: string,
  run: (raw: RawH2) => Promise<Facts>,
  rawOptions: RawH2Options = {},
): Promise<AttackReport> {
  const pid = world.proxy.pid;
  if (pid === undefined) throw new Error('the proxy has no pid');
  const target = { port: world.good.kubePort, ca: world.ca, client: world.client };
  let good: H2Client | undefined;
  let raw: RawH2 | undefined;
  try {
    good = await connectH2(target);
    const goodH2 = good;
    const watch = await watchProc(pid);
    // The good users: the world's probe (HTTP/1.1 kube and ks) and an HTTP/2 client on its
    // own connection to the attacked listener.
    const probes = probeWhile(async () => {
      const r = await world.probe();
      const started = performance.now();
      const res = await goodH2.get('/version', {}, 5_000);
      if (res.status !== 200) throw new Error(`HTTP/2 GET /version: ${res.status}`);
      return { kubeMs: Math.max(r.kubeMs, performance.now() - started), ksMs: r.ksMs };
    });
    raw = await connectRawH2(target, rawOptions);
    const facts = await run(raw);
    const peak = await watch.stop();
    return { attack, victim: 'proxy', peak, probes: await probes.stop(), facts };
  } finally {
    raw?.destroy();
    await good?.close();
  }
}

/** Resolves when the connection is closed, or after `ms`; true if it closed. */
async function closedWithin(raw: RawH2, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    raw.closed.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return closed;
}

const count = (raw: RawH2, type: number, errorCode?: number) =>
  raw.received.filter((f) => f.type === type && (errorCode === undefined || f.errorCode === errorCode)).length;

/** `allowed + extra` watches opened at once on one connection whose limit is `allowed`. */
export function tooManyStreams(world: HostileWorld, allowed: number, extra: number): Promise<AttackReport> {
  return h2Attack(world, `${allowed + extra} streams at once (limit ${allowed})`, async (raw) => {
    let watchesAtMember = 0;
    const onWatch = () => (watchesAtMember += 1);
    world.member.events.on('watch-open', onWatch);
    try {
      for (let i = 0; i < allowed + extra; i++)
        raw.write(frame(FRAME.HEADERS, END, 1 + 2 * i, headerBlock(getFields('/api/v1/namespaces?watch=1'))));
      await raw.waitFrame(() => count(raw, FRAME.RST_STREAM, H2_ERROR.REFUSED_STREAM) >= extra, `${extra} streams refused`);
      await raw.waitFrame(() => count(raw, FRAME.HEADERS) >= allowed, `${allowed} watches answered`);
      // A moment for anything beyond the limit to reach the member, were it let through.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return {
        answered: count(raw, FRAME.HEADERS),
        refused: count(raw, FRAME.RST_STREAM, H2_ERROR.REFUSED_STREAM),
        watchesAtMember,
        connectionOpen: !raw.socket.destroyed,
      };
    } finally {
      world.member.events.off('watch-open', onWatch);
    }
  });
}

/** A header list over the byte limit (in CONTINUATION frames), one over the pair limit, then a good request on the same connection. */
export function oversizedHeaders(
  world: HostileWorld,
  listBytes: number,
  pairs: number,
  options: { readonly ackSettings: boolean },
): Promise<AttackReport> {
  const when = options.ackSettings ? 'after the SETTINGS exchange' : 'from a client that never acknowledges SETTINGS';
  return h2Attack(
    world,
    `a ${Math.round(listBytes / 1024)} KiB header list and one of ${pairs} fields, ${when}`,
    async (raw) => {
      if (options.ackSettings)
        await raw.waitFrame((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) !== 0, 'the proxy to acknowledge our SETTINGS');
      const seen = world.member.seen.length;
      // Fields of 8 KiB (HPACK decoders refuse one field over 64 KiB outright).
      const padding = Array.from({ length: Math.ceil(listBytes / 8192) }, (_, i): [string, string] => [`x-padding-${i}`, 'p'.repeat(8192)]);
      const big = headerBlock([...getFields('/oversized-big'), ...padding]);
      for (let offset = 0, first = true; offset < big.length; offset += 16_384, first = false) {
        const last = offset + 16_384 >= big.length;
        raw.write(
          frame(
            first ? FRAME.HEADERS : FRAME.CONTINUATION,
            (first ? FLAG.END_STREAM : 0) | (last ? FLAG.END_HEADERS : 0),
            1,
            big.subarray(offset, offset + 16_384),
          ),
        );
      }
      raw.write(
        frame(
          FRAME.HEADERS,
          END,
          3,
          headerBlock([
            ...getFields('/oversized-many'),
            ...Array.from({ length: pairs }, (_, i): [string, string] => [`x-field-${i}`, 'v']),
          ]),
        ),
      );
      raw.write(frame(FRAME.HEADERS, END, 5, headerBlock(getFields('/oversized-good'))));
      const answer = (id: number, what: string) =>
        raw.waitFrame((f) => f.streamId === id && (f.type === FRAME.RST_STREAM || f.type === FRAME.HEADERS), what);
      const bigStream = await answer(1, 'an answer on the oversized stream');
      const manyStream = await answer(3, 'an answer on the stream with many fields');
      await raw.waitFrame((f) => f.streamId === 5 && f.type === FRAME.HEADERS, 'the good request on the same connection answered');
      // RST_STREAM with its code, or the response headers: HTTP/2 frames carry no status we decode here.
      const outcome = (f: { type: number; errorCode?: number }) => (f.type === FRAME.RST_STREAM ? `reset ${f.errorCode}` : 'answered');
      return {
        bigStream: outcome(bigStream),
        manyFields: outcome(manyStream),
        reachedMember:
          world.member.seen
            .filter((r, i) => i >= seen && r.path.startsWith('/oversized-'))
            .map((r) => r.path)
            .join(' ') || 'nothing',
      };
    },
    options,
  );
}

/**
 * PING or SETTINGS frames as fast as the proxy reads them, while their acknowledgements
 * are never read, with a watch open (so no deadline ends the connection). The proxy either
 * closes the connection (nghttp2 counts acknowledgements queued unsent) or stops reading
 * once its answers back up: `stalled` (the attacker could not write for 2 s).
 */
export function controlFlood(world: HostileWorld, kind: 'PING' | 'SETTINGS', frames: number): Promise<AttackReport> {
  return h2Attack(world, `${frames} ${kind} frames, acknowledgements never read`, async (raw) => {
    await openWatch(raw, 1);
    raw.socket.pause();
    const one = kind === 'PING' ? frame(FRAME.PING, 0, 0, Buffer.alloc(8)) : settingsFrame([[0x4 /* INITIAL_WINDOW_SIZE */, 65_535]]);
    const batch = Buffer.concat(Array.from({ length: 1_000 }, () => one));
    const started = performance.now();
    let sent = 0;
    let stalled = false;
    while (sent < frames && !raw.socket.destroyed && !stalled) {
      sent += 1_000;
      if (!raw.write(batch)) stalled = !(await drained(raw, 2_000));
    }
    const closed = raw.socket.destroyed || (!stalled && (await closedWithin(raw, 2_000)));
    return {
      framesSent: sent,
      sentMB: Math.round(raw.sent() / 1024 / 102.4) / 10,
      closed,
      stalled,
      afterMs: Math.round(performance.now() - started),
    };
  });
}

/** Open a watch on stream `id` and wait for its response headers (the SETTINGS exchange is done by then). */
async function openWatch(raw: RawH2, id: number): Promise<void> {
  raw.write(frame(FRAME.HEADERS, END, id, headerBlock(getFields('/api/v1/namespaces?watch=1'))));
  await raw.waitFrame((f) => f.streamId === id && f.type === FRAME.HEADERS, 'the watch answered');
}

/** True once the attacker's socket drained, false if it did not within `ms` (or closed). */
function drained(raw: RawH2, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      raw.socket.off('drain', onDrain);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    raw.socket.once('drain', onDrain);
    void raw.closed.then(() => done(false));
  });
}

/** Streams opened and reset at once, `streams` times (CVE-2023-44487). */
export function rapidReset(world: HostileWorld, streams: number): Promise<AttackReport> {
  return h2Attack(world, `${streams} streams opened and reset at once`, async (raw) => {
    const seen = world.member.seen.length;
    const started = performance.now();
    let opened = 0;
    for (; opened < streams && !raw.socket.destroyed; opened++) {
      const id = 1 + 2 * opened;
      raw.write(Buffer.concat([frame(FRAME.HEADERS, END, id, headerBlock(getFields('/rapid-reset'))), rstFrame(id)]));
      if (opened % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    const goaway = await raw.waitFrame((f) => f.type === FRAME.GOAWAY, 'GOAWAY').catch(() => undefined);
    const closed = await closedWithin(raw, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // upstream requests still on their way
    return {
      streamsOpened: opened,
      goawayCode: goaway?.errorCode ?? -1,
      closed,
      closedAfterMs: Math.round(performance.now() - started),
      reachedMember: world.member.seen.filter((s, i) => i >= seen && s.path === '/rapid-reset').length,
    };
  });
}

/** A header block that never ends: CONTINUATION frames without END_HEADERS. */
export function continuationFlood(world: HostileWorld, frames: number): Promise<AttackReport> {
  return h2Attack(world, `${frames} CONTINUATION frames in one header block`, async (raw) => {
    raw.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, headerBlock(getFields('/version'))));
    const piece = frame(FRAME.CONTINUATION, 0, 1, headerBlock([['x-more', 'm'.repeat(1_000)]]));
    let sent = 0;
    for (; sent < frames && !raw.socket.destroyed; sent++) {
      // Only what the proxy's side takes counts: frames queued in this process while the
      // proxy was about to close would say nothing about the proxy.
      if (!raw.write(piece)) {
        await firstOf(raw.socket, ['drain', 'close'], 5_000);
        if (raw.socket.writableNeedDrain) break;
      }
      if (sent % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    // nghttp2 ends the header block after a few CONTINUATION frames; the GOAWAY may be lost
    // with the socket, so what counts is that the connection closed long before the end
    // (the kernel's buffers on both sides take a few thousand frames first).
    return { framesSent: sent, closed: await closedWithin(raw, 5_000) };
  });
}

/** Extended CONNECT (RFC 8441) for an exec, never offered; then a good request on the same connection. */
export function extendedConnect(world: HostileWorld): Promise<AttackReport> {
  return h2Attack(world, 'extended CONNECT (WebSocket over HTTP/2) unasked', async (raw) => {
    const seen = world.member.seen.length;
    const fields: Array<[string, string]> = [
      [':method', 'CONNECT'],
      [':protocol', 'websocket'],
      [':scheme', 'https'],
      [':authority', 'localhost'],
      [':path', '/api/v1/namespaces/default/pods/p/exec?command=sh'],
    ];
    raw.write(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, headerBlock(fields)));
    raw.write(frame(FRAME.HEADERS, END, 3, headerBlock(getFields('/version'))));
    const answer = await raw.waitFrame(
      (f) => f.streamId === 1 && (f.type === FRAME.RST_STREAM || f.type === FRAME.HEADERS),
      'an answer to the extended CONNECT',
    );
    await raw.waitFrame((f) => f.streamId === 3 && f.type === FRAME.HEADERS, 'the good request on the same connection answered');
    return {
      connectReset: answer.type === FRAME.RST_STREAM ? (answer.errorCode ?? -1) : 'answered',
      goodRequestAnswered: true,
      reachedMember: world.member.seen.filter((s, i) => i >= seen && s.path.includes('/exec')).length,
    };
  });
}
