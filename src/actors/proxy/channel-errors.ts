/**
 * A channel that never opened: the agent refused it, did not answer, or its session ended
 * first. Nothing reached the member, so the request may go to another agent.
 */
export class ChannelNotOpened extends Error {
  override name = 'ChannelNotOpened';
}
