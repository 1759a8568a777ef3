/**
 * Where the proxy learns which clusters it serves. The file source (`--clusters FILE`)
 * and, later, the Kubernetes Cluster watch both implement this, so the proxy does not
 * care which one feeds it.
 */

/** What the tunnel needs to know about one member cluster. */
export interface ServedCluster {
  /** `metadata.name` of the Cluster object; agents send it as `Name`. */
  readonly name: string;
  /** `spec.connection.token`; compared in constant time with the agent's `Token`. */
  readonly token: string;
  /** HTTPS listener port for the member kube-apiserver. */
  readonly kubernetesAPIServerPort: number;
  /** Plain HTTP listener port for the member ks-apiserver. */
  readonly kubesphereAPIServerPort: number;
  /** Extra hosts (IPs or DNS names) to put in the serving certificate. */
  readonly extraHosts?: readonly string[];
}

export type ClusterSourceEvent =
  | { readonly type: 'cluster.upsert'; readonly cluster: ServedCluster }
  | { readonly type: 'cluster.remove'; readonly name: string };

export interface ClusterSource {
  /** Current set, by name. */
  snapshot(): ReadonlyMap<string, ServedCluster>;
  /**
   * Called for every change after the listener was added (not for the current set:
   * read `snapshot()` first). Returns an unsubscribe function.
   */
  subscribe(listener: (event: ClusterSourceEvent) => void): () => void;
  /** Stop watching and release every handle (timers, fs watchers). */
  close(): Promise<void>;
}
