/**
 * \@switchboard/agent serves a Switchboard agent (switchboard.v1.AgentService,
 * with gRPC health and reflection) from one handler, and keeps it
 * registered with an orchestrator. The generated contracts are exported
 * beside it: `@switchboard/agent/gen/switchboard/v1/agent_pb.js`.
 */
export { serveAgent } from "./agent.js";
export type { AgentOptions, AgentResultInit, RunningAgent, Turn, TurnHandler } from "./agent.js";
export type { RegistrationOptions } from "./registration.js";
export { Action } from "../../../src/gen/switchboard/v1/turn_pb.js";
export type { AgentResult, NextAction } from "../../../src/gen/switchboard/v1/turn_pb.js";
export type { AgentCard, InputDelta, OutputDelta, TurnStart } from "../../../src/gen/switchboard/v1/agent_pb.js";
