import type { JsonObject } from "@bufbuild/protobuf";
import { type AgentResultInit, type RunningAgent, serveAgent } from "../../src/sdk/index.js";

/**
 * startCounterAgent serves an agent that adds one to `count` in the
 * session state and answers with the new count. Because each turn builds
 * on the state it was given, a lost update shows as a wrong count. A turn
 * whose text is a JSON object sends that object as its state patch instead.
 */
export async function startCounterAgent(name = "echo"): Promise<RunningAgent & { calls: () => number }> {
  let calls = 0;
  const agent = await serveAgent({
    card: { name },
    async handler(turn): Promise<AgentResultInit> {
      calls++;
      const grow = /^grow (\d+)$/.exec(turn.text);
      if (grow) return { text: "grown", statePatch: { blob: "x".repeat(Number(grow[1])) } };
      if (turn.text.startsWith("{")) {
        return { text: "patched", statePatch: JSON.parse(turn.text) as JsonObject };
      }
      const count = Number(turn.start.state?.["count"] ?? 0) + 1;
      return { text: `count=${count}`, statePatch: { count } };
    },
  });
  return Object.assign(agent, { calls: () => calls });
}
