/** A devcluster with the Cluster CRD and a running ClusterController, for controller tests. */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ClusterController } from '../../src/actors/kube/cluster-controller.js';
import { startDevCluster, type DevCluster } from '../../devcluster/index.js';
import { CLUSTERS_PATH, type ClusterObject } from '../../src/kube/cluster-types.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import { silentLogger } from '../../src/log.js';
import { createSelfSignedCa } from '../../src/pki/index.js';
import { PkiPool } from '../../src/workers/pki-pool.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { startResourceWatch } from '../../src/actors/kube/resource-watch.js';
import { startKubeRelay, type KubeRelay } from '../helpers/kube-relay.js';
import { until } from '../helpers/wait.js';

const CRD_FILE = new URL('../../../config/crd/cluster.kubesphere.io_clusters.yaml', import.meta.url);

export interface ControllerFixture {
  readonly dc: DevCluster;
  readonly client: KubeClient;
  readonly pki: PkiPool;
  /** The controller's metrics (kept across restarts): writes are counted here. */
  readonly metrics: ProxyMetrics;
  /** With `relay: true`, the controller talks to the devcluster through this relay: its requests, as sent. */
  readonly relay: KubeRelay | undefined;
  controller: ClusterController;
  createCluster(name: string, spec?: ClusterObject['spec'], annotations?: Record<string, string>): Promise<void>;
  getCluster(name: string): Promise<ClusterObject>;
  /** Wait (bounded) until the stored Cluster satisfies `check`, re-reading after each reconcile. */
  waitCluster(name: string, check: (c: ClusterObject) => boolean, what: string): Promise<ClusterObject>;
  /** Resolve (bounded) once the controller serves `name` (or no longer does), and is idle. */
  waitServed(name: string, served: boolean): Promise<void>;
  restartController(): Promise<void>;
  close(): Promise<void>;
}

export interface ControllerFixtureOptions {
  readonly statusSubresource?: boolean;
  readonly publishServiceAddress?: string;
  /** Lifetime of the proxy CA (default 10 years). */
  readonly caValidityDays?: number;
  /** Time agents have to come back after a (re)start (default 0: none). */
  readonly agentGraceMs?: number;
  /** Put a recording relay between the controller and the devcluster. */
  readonly relay?: boolean;
}

export async function startControllerFixture(options: ControllerFixtureOptions = {}): Promise<ControllerFixture> {
  const dc = await startDevCluster({ name: 'host' });
  const client = KubeClient.fromString(dc.adminKubeconfig);
  const relay = options.relay ? await startKubeRelay(dc) : undefined;
  const controllerClient = relay ? KubeClient.fromString(relay.kubeconfig) : client;
  const crd = parse(await readFile(CRD_FILE, 'utf8'));
  if (options.statusSubresource) crd.spec.versions[0].subresources = { status: {} };
  await client.json({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: crd });
  const pki = await PkiPool.create(await createSelfSignedCa({ validityDays: options.caValidityDays ?? 3650 }), { mode: 'inline' });
  const metrics = new ProxyMetrics({ sessions: () => 0, clustersConnected: () => 0, channelsOpen: () => 0 });
  const make = () =>
    new ClusterController({
      client: controllerClient,
      pki,
      logger: silentLogger(),
      host: '127.0.0.1',
      agentPort: 8080,
      agentGraceMs: options.agentGraceMs ?? 0,
      metrics,
      ...(options.publishServiceAddress ? { publishServiceAddress: options.publishServiceAddress } : {}),
    });
  const fixture: ControllerFixture = {
    dc,
    client,
    pki,
    metrics,
    relay,
    controller: make(),
    createCluster: async (name, spec = { joinFederation: true, connection: { type: 'proxy', token: '' } }, annotations) => {
      await client.json({
        method: 'POST',
        path: CLUSTERS_PATH,
        body: { apiVersion: 'cluster.kubesphere.io/v1alpha1', kind: 'Cluster', metadata: { name, ...(annotations ? { annotations } : {}) }, spec },
      });
    },
    getCluster: (name) => client.json<ClusterObject>({ method: 'GET', path: `${CLUSTERS_PATH}/${name}` }),
    waitCluster: (name, check, what) => waitForCluster(client, name, check, what),
    waitServed: async (name, served) => {
      await until(
        () => fixture.controller.snapshot().has(name) === served,
        (onChange) => fixture.controller.subscribe(onChange),
        `cluster ${name} ${served ? 'served' : 'no longer served'}`,
      );
      await fixture.controller.idle();
    },
    restartController: async () => {
      await fixture.controller.close();
      fixture.controller = make();
      await fixture.controller.start();
    },
    close: async () => {
      await fixture.controller.close();
      await pki.destroy();
      await relay?.close();
      await dc.stop();
    },
  };
  await fixture.controller.start();
  return fixture;
}

/** Watch Cluster `name` until `check` holds (bounded): event-driven, no polling. */
function waitForCluster(client: KubeClient, name: string, check: (c: ClusterObject) => boolean, what: string, timeoutMs = 10_000): Promise<ClusterObject> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, cluster?: ClusterObject) => {
      clearTimeout(timer);
      watch.stop();
      if (error) reject(error);
      else resolve(cluster!);
    };
    const consider = (object: ClusterObject | undefined) => {
      if (object && object.metadata.name === name && check(object)) done(undefined, object);
    };
    const watch = startResourceWatch({
      client,
      path: CLUSTERS_PATH,
      resource: `wait:${name}`,
      logger: silentLogger(),
      onDelivery: (d) => {
        if (d.type === 'sync') for (const item of d.items) consider(item as ClusterObject);
        else if (d.type !== 'DELETED') consider(d.object as ClusterObject);
      },
    });
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for cluster ${name}: ${what}`)), timeoutMs);
  });
}
