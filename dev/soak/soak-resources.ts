/**
 * What keeps this process's event loop alive (`process.getActiveResourcesInfo()`: sockets,
 * servers, timers, pending requests), counted by type, and its difference from a baseline
 * taken before the run started anything.
 */

export type ResourceCounts = Record<string, number>;

export function activeResources(): ResourceCounts {
  const counts: ResourceCounts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Types whose count differs from the baseline, as `now − baseline` (only non-zero). */
export function resourceDiff(baseline: ResourceCounts, now: ResourceCounts): ResourceCounts {
  const diff: ResourceCounts = {};
  for (const type of new Set([...Object.keys(baseline), ...Object.keys(now)])) {
    const d = (now[type] ?? 0) - (baseline[type] ?? 0);
    if (d !== 0) diff[type] = d;
  }
  return diff;
}

/**
 * Poll until nothing is left above the baseline (closing sockets and servers need a few
 * turns of the loop), at most `timeoutMs`. Resolves with the last difference.
 */
export async function settleResources(baseline: ResourceCounts, timeoutMs: number): Promise<ResourceCounts> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    // The poll's own timer is not counted: measure between timers.
    const diff = resourceDiff(baseline, activeResources());
    if (Object.values(diff).every((d) => d <= 0) || performance.now() >= deadline) return diff;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
