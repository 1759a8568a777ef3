/** Why a request moves to another agent, or fails at once instead of waiting. */

/**
 * A channel that never opened: the agent refused it, did not answer, or its session ended
 * first. Nothing reached the member, so the request may go to another agent.
 */
export class ChannelNotOpened extends Error {
  override name = 'ChannelNotOpened';
}

/**
 * The agent went silent (suspected dead) before the answer started. A request that cannot
 * change anything is sent to another agent; any other fails at once (502) rather than
 * waiting for the session to be dropped.
 */
export class AgentWentSilent extends Error {
  override name = 'AgentWentSilent';
  constructor() {
    super('the agent went silent (suspected dead) before answering');
  }
}
