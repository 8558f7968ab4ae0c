import { create } from "@bufbuild/protobuf";
import { type TurnStart, TurnStartSchema } from "../../src/gen/switchboard/v1/agent_pb.js";
import { Role } from "../../src/gen/switchboard/v1/turn_pb.js";

/**
 * userText is what the user says in every turn of every scenario; the echo
 * agent answers "You said: " and the text, one word per delta (6 deltas).
 */
export const userText = "please book a table for two";

/**
 * turnStart is the TurnStart a direct client or a relay sends the agent:
 * shaped like the ones the orchestrator sends in a running conversation
 * (a small state, a full 20-entry history window), so every scenario moves
 * the same bytes.
 */
export function turnStart(sessionId: string, turn: number): TurnStart {
  const history = [];
  for (let i = 0; i < 20; i++) {
    history.push(
      i % 2 === 0
        ? { role: Role.USER, text: userText, turnId: `t${turn - 10 + i / 2}`, stage: "chat" }
        : { role: Role.AGENT, text: `You said: ${userText}`, agent: "echo", turnId: `t${turn - 10 + (i - 1) / 2}`, stage: "chat" },
    );
  }
  return create(TurnStartSchema, {
    sessionId,
    turnId: `t${turn}`,
    flowId: "bench-1",
    stage: "chat",
    input: { text: userText },
    state: { turns: turn, last_heard: userText },
    history,
    budget: { seconds: 30n },
    attempt: 1,
  });
}
