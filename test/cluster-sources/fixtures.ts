/** Cluster objects and files for the registry tests. */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Every test token contains this, so a test can check that no message leaks one. */
export const TOKEN_MARK = 'sekret';

export interface ClusterFields {
  readonly name: string;
  readonly token?: unknown;
  readonly kubernetesAPIServerPort?: unknown;
  readonly kubesphereAPIServerPort?: unknown;
  readonly type?: unknown;
  readonly joinFederation?: unknown;
}

/** A Cluster object; ports default from `n` so each cluster gets its own. */
export function clusterObject(fields: ClusterFields, n = 0): Record<string, unknown> {
  return {
    apiVersion: 'cluster.kubesphere.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: fields.name },
    spec: {
      ...('joinFederation' in fields ? { joinFederation: fields.joinFederation } : { joinFederation: true }),
      connection: {
        type: 'type' in fields ? fields.type : 'proxy',
        token: 'token' in fields ? fields.token : `${TOKEN_MARK}-${fields.name}-0123456789abcdef`,
        kubernetesAPIServerPort: 'kubernetesAPIServerPort' in fields ? fields.kubernetesAPIServerPort : 6000 + n,
        kubesphereAPIServerPort: 'kubesphereAPIServerPort' in fields ? fields.kubesphereAPIServerPort : 16000 + n,
      },
    },
  };
}

/** A multi-document YAML stream, one Cluster per document. */
export function yamlStream(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-registry-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Replace `file` atomically (temp file + rename), so no reader sees a half-written file. */
export async function replaceFile(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
}
