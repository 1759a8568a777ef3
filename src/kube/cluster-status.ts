/**
 * The conditions a Cluster should carry, decided from what the controller knows. Pure:
 * `undefined` means "nothing to change", so a steady state writes nothing.
 */
import { withCondition, type ClusterCondition, type ConditionStatus, type ConditionType } from './cluster-types.js';

/** The listeners of a served cluster: bound, not (why), or not known yet. */
export type ListenerState =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'InvalidPort' | 'PortConflict' | 'PortInUse' | 'ListenFailed'; readonly message: string }
  | undefined;

export interface ServedFacts {
  /** Agents serving the cluster through this proxy now. */
  readonly agents: number;
  /** False while agents may still be coming back after a (re)start: AgentAvailable is left alone. */
  readonly agentGraceOver: boolean;
  /** The load balancer's address, when the cluster asked for external access and got one. */
  readonly external: string | undefined;
  readonly listeners: ListenerState;
}

type Change = [ConditionType, ConditionStatus, string, string];

/** Conditions of a cluster this proxy serves. */
export function servedConditions(current: readonly ClusterCondition[] | undefined, facts: ServedFacts, now: string): ClusterCondition[] | undefined {
  const changes: Change[] = [['Initialized', 'True', 'Initialized', 'Cluster has been initialized']];
  if (facts.agents > 0) changes.push(['AgentAvailable', 'True', 'AgentConnected', 'Agent has connected to proxy successfully.']);
  else if (facts.agentGraceOver && has(current, 'AgentAvailable')) {
    changes.push(['AgentAvailable', 'False', 'AgentDisconnected', 'Agent has not connected to proxy.']);
  }
  if (facts.external) changes.push(['ExternalAccessReady', 'True', 'LoadBalancerReady', `External kube-apiserver endpoint is https://${facts.external}:6443`]);
  const listeners = facts.listeners;
  if (listeners?.ok) changes.push(['ListenersReady', 'True', 'Listening', 'The proxy listens on the cluster\'s ports.']);
  else if (listeners) changes.push(['ListenersReady', 'False', listeners.reason, listeners.message]);
  return apply(current, changes, now);
}

/** Conditions of a cluster this proxy does not serve (not a proxy cluster, left out of federation). */
export function unservedConditions(current: readonly ClusterCondition[] | undefined, now: string): ClusterCondition[] | undefined {
  if (current?.find((c) => c.type === 'AgentAvailable')?.status !== 'True') return undefined;
  return apply(current, [['AgentAvailable', 'False', 'NotServed', 'The proxy does not serve this cluster (not a proxy-type cluster, or out of federation).']], now);
}

function has(conditions: readonly ClusterCondition[] | undefined, type: ConditionType): boolean {
  return conditions?.some((c) => c.type === type) ?? false;
}

function apply(current: readonly ClusterCondition[] | undefined, changes: readonly Change[], now: string): ClusterCondition[] | undefined {
  let conditions = current ? [...current] : undefined;
  let changed = false;
  for (const [type, status, reason, message] of changes) {
    const next = withCondition(conditions, type, status, reason, message, now);
    if (next) {
      conditions = next;
      changed = true;
    }
  }
  return changed ? (conditions ?? []) : undefined;
}
