/**
 * The agent SDK, as the repository's own code imports it. It lives in its
 * package, packages/agent (`@switchboard/agent`), which teams install.
 */
export { Action, serveAgent } from "../../packages/agent/src/index.js";
export type {
  AgentOptions,
  AgentResultInit,
  RegistrationOptions,
  RunningAgent,
  Turn,
  TurnHandler,
} from "../../packages/agent/src/index.js";
