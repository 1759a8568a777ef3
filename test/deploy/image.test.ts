/**
 * The image dev/image/build.sh built (dist/image, or TOWER_IMAGE_DIR), run with Debian's
 * runc as the Deployments run it: the proxy from the image in a pod on an RBAC-enforcing
 * host (service-account token as its in-cluster identity, CA from the Secret, uid 65532,
 * read-only root, no capabilities) answers its probes, and the agent from the image
 * connects to it from a member. Skipped when no image was built (npm test alone builds
 * none; .ci/run builds it first).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeWithTool } from '../helpers/external-tool.js';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';
import { ClusterRig, HostRig, type PodRun } from './host-rig.js';
import { HostFlow } from './host-flow.js';
import { render, type Manifest } from './manifests.js';
import { getOver } from './http-get.js';
import { canRunPods } from './pod/can-run-pods.js';
import { imageBundle, runcCommand, type ImageBundle } from './pod/runc.js';
import { NODE_FLAGS } from '../../src/bin/node-flags.js';

const IMAGE_DIR = process.env['TOWER_IMAGE_DIR'] ?? join(PACKAGE_ROOT, 'dist', 'image');
const has = (command: string) => new Promise<boolean>((resolve) => execFile(command, ['--version'], (error) => resolve(!error)));

async function skipReason(): Promise<string | false> {
  if (!existsSync(join(IMAGE_DIR, 'image.json'))) return `no image in ${IMAGE_DIR}: build it with dev/image/build.sh (.ci/run does)`;
  if (!(await has('umoci')) || !(await has('runc'))) return 'umoci and runc are needed (apt-get install umoci runc)';
  return canRunPods();
}
const skip = await skipReason();

interface ImageInfo {
  tag: string;
  node: string;
  compressedBytes: number;
  unpackedBytes: number;
}

describeWithTool(
  'the built image, run with runc as the Deployments run it',
  skip,
  () => {
    let info: ImageInfo;
    let bundle: ImageBundle;
    let rig: HostRig;
    let member: ClusterRig;
    let flow: HostFlow;
    let proxy: PodRun;
    let memberObjects: Manifest[];

    before(async () => {
      info = JSON.parse(await readFile(join(IMAGE_DIR, 'image.json'), 'utf8')) as ImageInfo;
      rig = await HostRig.install(await render('host/base'));
      await new Promise<void>((resolve, reject) =>
        execFile(
          'umoci',
          ['unpack', '--image', `${join(IMAGE_DIR, 'oci')}:${info.tag}`, join(rig.dir, 'bundle')],
          { timeout: 120_000 },
          (error, _o, stderr) => (error ? reject(new Error(`umoci unpack: ${stderr || error.message}`)) : resolve()),
        ),
      );
      bundle = await imageBundle(join(rig.dir, 'bundle'));
      member = await ClusterRig.start('member', rig.dir);
      memberObjects = await render('member/base');
      await member.apply(memberObjects);
      flow = new HostFlow(rig);
    });
    after(async () => {
      await member?.close();
      await rig?.close();
    });

    it(`is small, runs as 65532 with tower-proxy as entrypoint, and has no shell`, async (t) => {
      t.diagnostic(
        `image ${info.tag}: ${(info.compressedBytes / 1e6).toFixed(1)} MB compressed, ${(info.unpackedBytes / 1e6).toFixed(1)} MB unpacked, node ${info.node}`,
      );
      assert.ok(info.compressedBytes < 80e6, `compressed size ${info.compressedBytes}`);
      const config = JSON.parse(await readFile(join(bundle.dir, 'config.json'), 'utf8')) as {
        process: { user: { uid: number; gid: number }; args: string[]; cwd: string };
      };
      assert.deepEqual(
        [config.process.user.uid, config.process.user.gid, config.process.args, config.process.cwd],
        [65532, 65532, ['tower-proxy'], '/app'],
      );
      const rootfs = join(bundle.dir, 'rootfs');
      for (const shell of ['bin/sh', 'bin/bash', 'usr/bin/sh', 'bin/busybox']) assert.ok(!existsSync(join(rootfs, shell)), `no ${shell}`);
      for (const b of ['proxy', 'agent']) assert.equal(await readlink(join(rootfs, 'usr/local/bin', `tower-${b}`)), `/app/bin/tower-${b}`);
      const shebang = (await readFile(join(rootfs, 'app/bin/tower-proxy'), 'utf8')).split('\n')[0];
      assert.equal(shebang, `#!/usr/local/bin/node ${NODE_FLAGS.join(' ')}`);
      assert.equal((await lstat(join(rootfs, 'app/dist/src/bin/proxy.js'))).mode & 0o022, 0, 'the app is not writable by its user');
    });

    /** The resident memory of a container's process, in MB. */
    const rssMB = async (run: PodRun): Promise<string> => {
      const id = `${run.container.plan.hostname}-${run.container.plan.name}`;
      const { pid } = JSON.parse(await runcCommand(['--root', join(rig.dir, 'runc-state'), 'state', id])) as { pid: number };
      const kB = Number(/^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]);
      return (kB / 1000).toFixed(1);
    };

    it('runs the proxy from the image as Deployment tower: in-cluster identity, leads, watches, answers its probes', async (t) => {
      proxy = await flow.start(bundle);
      const state = JSON.parse(await runcCommand(['--root', join(rig.dir, 'runc-state'), 'state', `${proxy.pod.name}-tower`])) as {
        pid: number;
      };
      const status = await readFile(`/proc/${state.pid}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
      assert.match(status, /^CapEff:\s+0+$/m);
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      assert.equal((await getOver(() => proxy.pod.connect(8080), '/health')).status, 200);
      assert.equal((await getOver(() => proxy.pod.connect(8080), '/livez')).status, 200);
      assert.deepEqual(proxy.dropped, [], "the image's bin/proxy takes every argument of the Deployment");
    });

    it('runs the agent from the image as Deployment cluster-agent in a member: it connects', async (t) => {
      await flow.createCluster('alpha');
      const agent = await flow.startAgent(member, memberObjects, 'alpha', bundle);
      assert.match(agent.container.child.output, /Connected/);
      // The figures the manifests' resource requests are sized from.
      t.diagnostic(`RSS connected: proxy ${await rssMB(proxy)} MB, agent ${await rssMB(agent)} MB`);
    });

    it('stops on SIGTERM with exit code 0', async () => {
      assert.deepEqual(await proxy.container.child.stop(15_000), { code: 0, signal: null });
    });
  },
  { timeout: 180_000 },
);
