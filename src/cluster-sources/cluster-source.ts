/**
 * Where the proxy learns which clusters it serves. The file source (`--clusters FILE`)
 * and the Kubernetes cluster controller both implement this, so the proxy does not care
 * which one feeds it; a source that wants to hear how serving goes (the controller writes
 * it back to the Cluster objects) implements the optional methods.
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

export interface ClusterSource extends ServingFeedback {
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

/** What the proxy tells a source about an agent. */
export type AgentReport =
  | { readonly kind: 'connected'; readonly cluster: string; readonly remote: string; readonly version: string | undefined }
  | { readonly kind: 'disconnected'; readonly cluster: string; readonly reason: string }
  | { readonly kind: 'rejected'; readonly cluster: string; readonly remote: string; readonly reason: string };

/** The optional half of a source: how serving its clusters goes. */
export interface ServingFeedback {
  /** The number of serving agents of a cluster changed. */
  agentsChanged?(name: string, count: number): void;
  /** A cluster's listeners were bound (undefined) or cannot be (why). */
  bindChanged?(name: string, problem: string | undefined): void;
  /** An agent connected, left, or was refused. */
  agentReport?(report: AgentReport): void;
}
