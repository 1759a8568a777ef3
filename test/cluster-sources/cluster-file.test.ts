import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { openClusterFile } from '../../src/cluster-sources/cluster-file.js';
import { ClusterFileError } from '../../src/cluster-sources/cluster-file-error.js';
import type { ClusterSource } from '../../src/cluster-sources/cluster-source.js';
import { clusterObject, replaceFile, TOKEN_MARK, withTempDir, yamlStream } from './fixtures.js';
import { recordEvents, recordingLogger } from './waiters.js';

const DEBOUNCE_MS = 20;
const alpha = clusterObject({ name: 'alpha' }, 0);
const beta = clusterObject({ name: 'beta' }, 1);

/** Open `file` holding `objects`, run `fn`, always close. */
async function withSource(
  dir: string,
  objects: readonly unknown[],
  fn: (source: ClusterSource, file: string, log: ReturnType<typeof recordingLogger>) => Promise<void>,
): Promise<void> {
  const file = join(dir, 'clusters.yaml');
  await writeFile(file, yamlStream(objects));
  const log = recordingLogger();
  const source = await openClusterFile(file, { logger: log.logger, debounceMs: DEBOUNCE_MS });
  try {
    await fn(source, file, log);
  } finally {
    await source.close();
  }
  assert.ok(!log.lines.some((line) => line.includes(TOKEN_MARK)), 'a token reached a log line');
}

const portsOf = (source: ClusterSource) =>
  [...source.snapshot().values()].map((c) => [c.name, c.kubernetesAPIServerPort, c.kubesphereAPIServerPort]);

test('startup: the snapshot holds the served clusters', async () => {
  await withTempDir((dir) =>
    withSource(dir, [alpha, beta, clusterObject({ name: 'direct', type: 'direct' })], async (source, _file, log) => {
      assert.deepEqual(portsOf(source), [
        ['alpha', 6000, 16000],
        ['beta', 6001, 16001],
      ]);
      assert.equal(await log.infos.next(), 'clusters file loaded');
    }),
  );
});

test('startup: an invalid file rejects with the one-line message', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'clusters.yaml');
    await writeFile(file, yamlStream([clusterObject({ name: 'alpha', kubernetesAPIServerPort: 0 })]));
    await assert.rejects(openClusterFile(file), (err: unknown) => {
      assert.ok(err instanceof ClusterFileError);
      assert.match(err.message, /^clusters file ".*clusters\.yaml", object #1 \(line 1, name "alpha"\): spec\.connection\.kubernetesAPIServerPort is 0; /);
      assert.ok(!err.message.includes(TOKEN_MARK));
      return true;
    });
    await assert.rejects(openClusterFile(join(dir, 'missing.yaml')), {
      name: 'ClusterFileError',
      message: `clusters file ${JSON.stringify(join(dir, 'missing.yaml'))}: does not exist; check the --clusters path`,
    });
    await assert.rejects(openClusterFile(join(dir, 'no-such-dir', 'c.yaml')), { name: 'ClusterFileError' });
    await assert.rejects(openClusterFile(dir), /is not a regular file/);
  });
});

test('edits: add, change, remove', async () => {
  await withTempDir((dir) =>
    withSource(dir, [alpha], async (source, file) => {
      const events = recordEvents(source);

      await writeFile(file, yamlStream([alpha, beta]));
      assert.deepEqual(await events.next(), { type: 'cluster.upsert', cluster: source.snapshot().get('beta') });
      assert.deepEqual(portsOf(source), [['alpha', 6000, 16000], ['beta', 6001, 16001]]);

      await writeFile(file, yamlStream([clusterObject({ name: 'alpha', token: `${TOKEN_MARK}-rotated` }), beta]));
      const changed = await events.next();
      assert.equal(changed.type, 'cluster.upsert');
      assert.equal(changed.type === 'cluster.upsert' && changed.cluster.token, `${TOKEN_MARK}-rotated`);

      await writeFile(file, yamlStream([beta]));
      assert.deepEqual(await events.next(), { type: 'cluster.remove', name: 'alpha' });
      assert.deepEqual([...source.snapshot().keys()], ['beta']);
      assert.deepEqual(events.queued, []);
    }),
  );
});

test('edits: replace by rename (how many editors save)', async () => {
  await withTempDir((dir) =>
    withSource(dir, [alpha], async (source, file) => {
      const events = recordEvents(source);
      const temp = join(dir, '.clusters.yaml.swp');
      await writeFile(temp, yamlStream([clusterObject({ name: 'alpha', kubesphereAPIServerPort: 17000 })]));
      await rename(temp, file);
      const event = await events.next();
      assert.equal(event.type === 'cluster.upsert' && event.cluster.kubesphereAPIServerPort, 17000);
    }),
  );
});

test('edits: deleted then created again', async () => {
  await withTempDir((dir) =>
    withSource(dir, [alpha, beta], async (source, file, log) => {
      const events = recordEvents(source);
      await rm(file);
      assert.match(await log.warns.next(), /: does not exist; check the --clusters path \(keeping the previous clusters\)$/);
      assert.deepEqual([...source.snapshot().keys()], ['alpha', 'beta']);

      await writeFile(file, yamlStream([beta]));
      assert.deepEqual(await events.next(), { type: 'cluster.remove', name: 'alpha' });
    }),
  );
});

test('edits: an invalid edit keeps the previous set; fixing it applies', async () => {
  await withTempDir((dir) =>
    withSource(dir, [alpha], async (source, file, log) => {
      const events = recordEvents(source);
      const before = source.snapshot();
      await replaceFile(file, yamlStream([alpha, clusterObject({ name: 'beta', kubernetesAPIServerPort: 6000 }, 1)]));
      const warning = await log.warns.next();
      assert.match(warning, /object #2 \(line \d+, name "beta"\): spec\.connection\.kubernetesAPIServerPort 6000 is already used by cluster "alpha"/);
      assert.ok(!warning.includes('\n') && !warning.includes(TOKEN_MARK));
      assert.equal(source.snapshot(), before);

      await replaceFile(file, `${yamlStream([alpha])}\nbroken: [\n`);
      assert.match(await log.warns.next(), /invalid YAML\/JSON at line \d+/);

      await replaceFile(file, yamlStream([alpha, beta]));
      assert.equal((await events.next()).type, 'cluster.upsert');
      assert.deepEqual([...source.snapshot().keys()], ['alpha', 'beta']);
      assert.deepEqual(events.queued, []);
    }),
  );
});

test('edits: an emptied file is ignored (a write in progress); [] empties the set', async () => {
  await withTempDir((dir) =>
    withSource(dir, [alpha], async (source, file, log) => {
      const events = recordEvents(source);
      await writeFile(file, '');
      assert.match(await log.warns.next(), /: is empty; write \[\] to serve no clusters \(keeping the previous clusters\)$/);
      assert.deepEqual([...source.snapshot().keys()], ['alpha']);
      await replaceFile(file, '[]\n');
      assert.deepEqual(await events.next(), { type: 'cluster.remove', name: 'alpha' });
    }),
  );
});

test('edits: unchanged content or an equivalent rewrite emits nothing', async () => {
  await withTempDir((dir) =>
    withSource(dir, [alpha], async (source, file, log) => {
      const events = recordEvents(source);
      await replaceFile(file, yamlStream([alpha]));
      assert.equal(await log.debugs.next(), 'clusters file re-read: content unchanged');
      await replaceFile(file, `# same clusters, as JSON\n${JSON.stringify([alpha])}\n`);
      assert.equal(await log.debugs.next(), 'clusters file re-read: no cluster changed');
      assert.deepEqual(events.queued, []);
    }),
  );
});

test('edits: a Kubernetes ConfigMap volume update (..data symlink swap)', async () => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'clusters.yaml'), yamlStream([alpha]));
    await symlink('..v1', join(dir, '..data'));
    await symlink(join('..data', 'clusters.yaml'), join(dir, 'clusters.yaml'));
    const source = await openClusterFile(join(dir, 'clusters.yaml'), { debounceMs: DEBOUNCE_MS });
    try {
      const events = recordEvents(source);
      await mkdir(join(dir, '..v2'));
      await writeFile(join(dir, '..v2', 'clusters.yaml'), yamlStream([alpha, beta]));
      await symlink('..v2', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      const event = await events.next();
      assert.equal(event.type === 'cluster.upsert' && event.cluster.name, 'beta');
    } finally {
      await source.close();
    }
  });
});

test('edits: a symlink to a file in another directory follows edits of the target', async () => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'real'));
    await writeFile(join(dir, 'real', 'c.yaml'), yamlStream([alpha]));
    await symlink(join(dir, 'real', 'c.yaml'), join(dir, 'clusters.yaml'));
    const source = await openClusterFile(join(dir, 'clusters.yaml'), { debounceMs: DEBOUNCE_MS });
    try {
      const events = recordEvents(source);
      await writeFile(join(dir, 'real', 'c.yaml'), '[]');
      assert.deepEqual(await events.next(), { type: 'cluster.remove', name: 'alpha' });
    } finally {
      await source.close();
    }
  });
});

test('a listener that throws does not stop the others; unsubscribe works', async () => {
  await withTempDir((dir) =>
    withSource(dir, [], async (source, file, log) => {
      const unsubscribed: string[] = [];
      const stop = source.subscribe((e) => unsubscribed.push(e.type));
      stop();
      source.subscribe(() => {
        throw new Error('boom');
      });
      const events = recordEvents(source);
      await replaceFile(file, yamlStream([alpha]));
      assert.equal((await events.next()).type, 'cluster.upsert');
      assert.match(await log.warns.next(), /listener threw/);
      assert.deepEqual(unsubscribed, []);
    }),
  );
});

test('close() releases every watcher and timer', async () => {
  const handles = () =>
    process.getActiveResourcesInfo().filter((kind) => kind === 'FSEventWrap' || kind === 'Timeout').length;
  await withTempDir(async (dir) => {
    const before = handles();
    const file = join(dir, 'clusters.yaml');
    await writeFile(file, yamlStream([alpha]));
    // A pino logger fits the logger option as is.
    const source = await openClusterFile(file, { logger: pino({ level: 'silent' }) });
    assert.ok(handles() > before, 'expected a live directory watcher');
    await writeFile(file, yamlStream([alpha, beta])); // leave a debounce timer pending
    await source.close();
    await source.close(); // idempotent
    // libuv frees a closed watcher in the close phase of a later loop turn: wait some turns.
    for (let turn = 0; turn < 10 && handles() !== before; turn++) await new Promise(setImmediate);
    assert.equal(handles(), before);
  });
});
