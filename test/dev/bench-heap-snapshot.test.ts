import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { summarizeHeapSnapshot } from '../../dev/bench/bench-heap-snapshot.js';

class BenchHeapMarker {
  readonly payload = Array.from({ length: 2_000 }, (_, i) => ({ i, text: `marker-${i}` }));
}

test('heap-snapshot summary counts instances and their retained size', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'heap-summary-'));
  const markers = Array.from({ length: 10 }, () => new BenchHeapMarker());
  try {
    const file = writeHeapSnapshot(join(dir, 'test.heapsnapshot'));
    const summary = summarizeHeapSnapshot(file, ['BenchHeapMarker'], Number.POSITIVE_INFINITY);
    const marker = summary.retained['BenchHeapMarker'];
    assert.ok(marker, 'no retained entry for BenchHeapMarker');
    assert.equal(marker.count, markers.length);
    // Each holds 2,000 objects and strings of its own: far more than 2,000 × 16 bytes.
    assert.ok(marker.meanBytes > 32_000, `mean retained ${marker.meanBytes} bytes`);
    const group = summary.byConstructor.find((g) => g.name === 'object:BenchHeapMarker');
    assert.equal(group?.count, markers.length);
    assert.ok(summary.totalBytes > 0 && (summary.byType['object'] ?? 0) > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
