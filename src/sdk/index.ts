export { serveAgent } from "./agent.js";
export type { AgentOptions, AgentResultInit, RunningAgent, Turn, TurnHandler } from "./agent.js";
export { Action } from "../gen/switchboard/v1/turn_pb.js";
export type { RegistrationOptions } from "./registration.js";
