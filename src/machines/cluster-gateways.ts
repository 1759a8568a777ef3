/**
 * Proxy side: the parent of the cluster-gateway actors of one served source.
 *
 * A gateway is made for every configured cluster, agents or not, so its cost is paid per
 * configured cluster: as children of one parent they share its actor system instead of
 * each bringing one (less V8 heap per cluster, docs/performance.md), and an inspector shows
 * them as one tree. A gateway that reached its final state (or failed) is dropped from the
 * children.
 * Every gateway is `gateway:<cluster>`.
 */
import { enqueueActions, setup, spawnChild, type ActorRefFrom, type DoneActorEvent, type ErrorActorEvent } from 'xstate';
import { clusterGatewayMachine, type ClusterGatewayInput } from './cluster-gateway.js';

interface GatewayStart {
  readonly type: 'gateway.start';
  readonly input: ClusterGatewayInput;
}

export type ClusterGatewaysEvent = GatewayStart | DoneActorEvent<unknown, string> | ErrorActorEvent<unknown, string>;

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
  actions: {
    // By reference, not id: a cluster removed and added again may have a new gateway under
    // the same id while the old one was still closing.
    dropEnded: enqueueActions(({ event, self, enqueue }) => {
      if (event.type === 'gateway.start') return;
      const child = self.getSnapshot().children[event.actorId];
      const status = child?.getSnapshot().status;
      if (child && (status === 'done' || status === 'error')) enqueue.stopChild(child);
    }),
  },
}).createMachine({
  id: 'clusterGateways',
  on: {
    'gateway.start': {
      actions: spawnChild('gateway', { id: ({ event }) => gatewayId(started(event).input.clusterName), input: ({ event }) => started(event).input }),
    },
    'xstate.done.actor.*': { actions: 'dropEnded' },
    // Handled here, a gateway's error ends that gateway only (unhandled, it would end the
    // parent and every other gateway with it).
    'xstate.error.actor.*': { actions: 'dropEnded' },
  },
});

function gatewayId(clusterName: string): string {
  return `gateway:${clusterName}`;
}

/** Start the gateway of `input.clusterName` as a child of `parent`, and return it. */
export function spawnGateway(
  parent: ActorRefFrom<typeof clusterGatewaysMachine>,
  input: ClusterGatewayInput,
): ActorRefFrom<typeof clusterGatewayMachine> {
  const id = gatewayId(input.clusterName);
  parent.send({ type: 'gateway.start', input });
  const child = parent.getSnapshot().children[id];
  if (!child) throw new Error(`the gateway of cluster ${input.clusterName} did not start`);
  return child as ActorRefFrom<typeof clusterGatewayMachine>;
}
