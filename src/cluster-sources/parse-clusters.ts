/**
 * The whole `--clusters` file: text in, the set of served clusters out, or one
 * ClusterFileError line naming the file, the object and the fix.
 */
import type { ServedCluster } from './cluster-source.js';
import { readClusterObjects, type LocatedObject } from './cluster-documents.js';
import { ClusterFileError, ClusterFileProblem } from './cluster-file-error.js';
import { locateObject, validateClusterObject } from './validate-cluster.js';

export interface SkippedCluster {
  readonly name: string;
  readonly reason: string;
}

export interface ParsedClusters {
  /** Served clusters by name, in file order. */
  readonly served: ReadonlyMap<string, ServedCluster>;
  /** Valid Cluster objects this proxy does not serve (not `type: proxy`, …). */
  readonly skipped: readonly SkippedCluster[];
}

/** Prefix of every message about the file: `clusters file "x.yaml"`. */
export function clusterFileLabel(file: string): string {
  return `clusters file ${JSON.stringify(file)}`;
}

/** @throws ClusterFileError (one line) when the text is not a valid clusters file. */
export function parseClusters(text: string, file: string): ParsedClusters {
  try {
    return parseObjects(readClusterObjects(text));
  } catch (err) {
    if (err instanceof ClusterFileProblem) {
      const where = err.where === undefined ? '' : `, ${err.where}`;
      throw new ClusterFileError(`${clusterFileLabel(file)}${where}: ${err.message}`);
    }
    throw err;
  }
}

function parseObjects(objects: readonly LocatedObject[]): ParsedClusters {
  const served = new Map<string, ServedCluster>();
  const skipped: SkippedCluster[] = [];
  const objectByName = new Map<string, LocatedObject>();
  const portOwner = new Map<number, { name: string; object: LocatedObject }>();

  for (const object of objects) {
    const result = validateClusterObject(object);
    const name = result.served ? result.cluster.name : result.name;
    const here = locateObject(object, name);
    const previous = objectByName.get(name);
    if (previous) {
      throw new ClusterFileProblem(
        here,
        `metadata.name is also used by ${locateObject(previous)}; give every cluster its own name`,
      );
    }
    objectByName.set(name, object);
    if (!result.served) {
      skipped.push({ name, reason: result.reason });
      continue;
    }
    const { cluster } = result;
    for (const field of ['kubernetesAPIServerPort', 'kubesphereAPIServerPort'] as const) {
      const port = cluster[field];
      const owner = portOwner.get(port);
      if (owner) {
        throw new ClusterFileProblem(
          here,
          `spec.connection.${field} ${port} is already used by cluster ${JSON.stringify(owner.name)} ` +
            `(${locateObject(owner.object)}); give every cluster its own ports`,
        );
      }
      portOwner.set(port, { name, object });
    }
    served.set(name, cluster);
  }
  return { served, skipped };
}
