import type { AgentSessionEvent, SshCommand } from '../../machines/agent-session.js';

/**
 * What the agent-session machine's `ssh` actor does for one session: the body of a
 * callback actor. Kept as a plain function so one provided machine serves every session.
 */
export type SshRun = (io: {
  sendBack: (event: AgentSessionEvent) => void;
  receive: (listener: (command: SshCommand) => void) => void;
}) => (() => void) | void;
