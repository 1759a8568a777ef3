/** Every machine, keyed by the file name of its diagram in docs/state-diagrams/. */
import type { AnyStateMachine } from 'xstate';
import { agentConnectionMachine } from './agent-connection.js';
import { agentSessionMachine } from './agent-session.js';
import { channelMachine } from './channel.js';
import { clusterGatewayMachine } from './cluster-gateway.js';
import { clusterGatewaysMachine } from './cluster-gateways.js';
import { leaderElectionMachine } from './leader-election.js';
import { resourceWatchMachine } from './resource-watch.js';
import { tokenRotationMachine } from './token-rotation.js';

export const allMachines: Record<string, AnyStateMachine> = {
  'agent-connection': agentConnectionMachine,
  'agent-session': agentSessionMachine,
  channel: channelMachine,
  'cluster-gateway': clusterGatewayMachine,
  'cluster-gateways': clusterGatewaysMachine,
  'leader-election': leaderElectionMachine,
  'resource-watch': resourceWatchMachine,
  'token-rotation': tokenRotationMachine,
};
