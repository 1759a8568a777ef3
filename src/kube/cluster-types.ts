/** The Cluster custom resource (cluster.kubesphere.io/v1alpha1), as the proxy reads and writes it. */
import type { KubeObject } from '../machines/resource-watch.js';

export const CLUSTER_GROUP = 'cluster.kubesphere.io';
export const CLUSTER_VERSION = 'v1alpha1';
export const CLUSTERS_PATH = `/apis/${CLUSTER_GROUP}/${CLUSTER_VERSION}/clusters`;
export const TOWER_NAMESPACE = 'kubesphere-system';

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export type ConditionType = 'Initialized' | 'AgentAvailable' | 'ExternalAccessReady' | 'ListenersReady';

export interface ClusterCondition {
  type: string;
  status: ConditionStatus;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface ClusterConnection {
  type?: string;
  kubesphereAPIEndpoint?: string;
  kubernetesAPIEndpoint?: string;
  externalKubernetesAPIEndpoint?: string;
  /** base64 of the kubeconfig YAML (`format: byte`). */
  kubeconfig?: string;
  token?: string;
  kubernetesAPIServerPort?: number;
  kubesphereAPIServerPort?: number;
}

export interface ClusterObject extends KubeObject {
  metadata: KubeObject['metadata'] & {
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
  };
  spec?: {
    joinFederation?: boolean;
    enable?: boolean;
    provider?: string;
    externalKubeAPIEnabled?: boolean;
    config?: string;
    connection?: ClusterConnection;
  };
  status?: {
    conditions?: ClusterCondition[];
    [key: string]: unknown;
  };
}

/** The Cluster annotation (misspelt as in KubeSphere) holding LoadBalancer Service annotations as JSON. */
export const EXTERNAL_LB_ANNOTATIONS = 'tower.kubesphere.io/external-lb-service-annoations';

export function getCondition(cluster: ClusterObject, type: ConditionType): ClusterCondition | undefined {
  return cluster.status?.conditions?.find((c) => c.type === type);
}

/**
 * A copy of `conditions` with `type` set. lastTransitionTime moves only when the status
 * changes; nothing changes (same array returned) when status, reason and message match.
 */
export function withCondition(
  conditions: readonly ClusterCondition[] | undefined,
  type: ConditionType,
  status: ConditionStatus,
  reason: string,
  message: string,
  now: string,
): ClusterCondition[] | undefined {
  const list = conditions ?? [];
  const current = list.find((c) => c.type === type);
  if (current && current.status === status && current.reason === reason && current.message === message) return undefined;
  const next: ClusterCondition = {
    type,
    status,
    lastUpdateTime: now,
    lastTransitionTime: current && current.status === status ? (current.lastTransitionTime ?? now) : now,
    reason,
    message,
  };
  return [...list.filter((c) => c.type !== type), next];
}
