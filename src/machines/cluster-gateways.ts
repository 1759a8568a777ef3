/**
 * Proxy side: the parent of the cluster-gateway actors of one served source.
 *
 * A gateway is made for every configured cluster, agents or not, so its cost is paid per
 * configured cluster: as children of one parent they share its actor system instead of
 * each bringing one (less V8 heap per cluster, docs/performance.md), and an inspector shows
 * them as one tree. A gateway that reached its final state is dropped from the children.
 * Every gateway is `gateway:<cluster>`.
 */
import { enqueueActions, setup, spawnChild, type DoneActorEvent } from 'xstate';
import { clusterGatewayMachine, type ClusterGatewayInput } from './cluster-gateway.js';

interface GatewayStart {
  readonly type: 'gateway.start';
  /** The child's id: `gateway:<cluster>`. */
  readonly id: string;
  readonly input: ClusterGatewayInput;
}

export type ClusterGatewaysEvent = GatewayStart | DoneActorEvent<unknown, string>;

/** The spawn options see the machine's every event type; only gateway.start spawns. */
function started(event: ClusterGatewaysEvent): GatewayStart {
  if (event.type !== 'gateway.start') throw new Error(`clusterGateways: ${event.type} spawns nothing`);
  return event;
}

export const clusterGatewaysMachine = setup({
  types: {
    events: {} as ClusterGatewaysEvent,
  },
  actors: { gateway: clusterGatewayMachine },
}).createMachine({
  id: 'clusterGateways',
  on: {
    'gateway.start': {
      actions: spawnChild('gateway', { id: ({ event }) => started(event).id, input: ({ event }) => started(event).input }),
    },
    'xstate.done.actor.*': {
      // Only the gateway that ended: a cluster removed and added again may have a new one
      // under the same id while the old one was still closing.
      actions: enqueueActions(({ event, self, enqueue }) => {
        const child = self.getSnapshot().children[event.actorId];
        if (child?.getSnapshot().status === 'done') enqueue.stopChild(child);
      }),
    },
  },
});
