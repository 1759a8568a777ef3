/**
 * The V8 flags bin/proxy and bin/agent run with: their shebangs carry them (and the image's
 * entrypoints, dev/image/build-app.sh); whoever starts `node <bin>` itself (the bench, the
 * demo) passes these.
 *
 * --initial-old-space-size=64: a floor for the old generation's first GC limits (a limit,
 * not memory: idle RSS does not change). Without it a lean process (10 MB of live heap)
 * starts an incremental mark-compact every ~1 MB promoted during a bulk transfer: V8 marks
 * as soon as the room left under the limit is no larger than the young generation (16 MB
 * once a transfer has grown it), which a 10 MB heap never has. Measured (bench `bulk`,
 * 200 MiB): 43 mark-compacts in the agent without, 2 with; CPU per GB proxy 6.0 → 4.1 s
 * (kube path), agent 4.1 → 2.5 s. 32 MB was not enough. See docs/performance.md.
 */
export const NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];
