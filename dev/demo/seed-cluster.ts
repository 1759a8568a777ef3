/**
 * The seed README's agent.yaml, shipped at the repository root: a proxy-type Cluster
 * `alpha` with an empty token, namespace included although the Cluster is cluster-scoped
 * (the seed creates it with `-n`). The demo and the tests use that file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './paths.js';

export const SEED_CLUSTER_FILE = join(PACKAGE_ROOT, 'agent.yaml');

/** agent.yaml with another cluster name. */
export function seedClusterYaml(name: string): string {
  const yaml = readFileSync(SEED_CLUSTER_FILE, 'utf8');
  if (!/^  name: alpha$/m.test(yaml)) throw new Error(`${SEED_CLUSTER_FILE} no longer names Cluster alpha`);
  return yaml.replace(/^  name: alpha$/m, `  name: ${name}`);
}
