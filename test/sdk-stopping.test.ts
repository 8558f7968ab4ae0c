import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConformance } from "../src/conformance/run-conformance.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";

/**
 * The TypeScript SDK stops a turn for the agent: on a cancel and when the
 * turn's budget runs out, even when the handler never looks at its signal.
 */
describe("serveAgent with a handler that ignores its signal", () => {
  let agent: RunningAgent;
  let released = 0;

  beforeAll(async () => {
    agent = await serveAgent({
      card: { name: "oblivious", version: "1.0.0" },
      async *handler(turn) {
        yield "working on it";
        // A call that takes no signal and never returns, e.g. a hung model
        // client without a timeout.
        if (turn.start.metadata["switchboard.conformance"] === "slow") await new Promise<never>(() => undefined);
        released++;
        yield ", done";
        return "working on it, done";
      },
    });
  });

  afterAll(async () => {
    await agent?.close();
  });

  it("answers CANCELLED on a cancel and DEADLINE_EXCEEDED at the budget without waiting for the handler", async () => {
    const report = await runConformance(agent.url);
    const status = Object.fromEntries(report.results.map((r) => [r.name, `${r.status}: ${r.detail}`]));
    expect(status["cancel"]).toMatch(/^pass: stopped \d+ms after CancelTurn with CANCELLED$/);
    expect(status["deadline"]).toMatch(/^pass: stopped \d+ms into a 500ms budget with DEADLINE_EXCEEDED$/);
    expect(report.ok, JSON.stringify(report.results, null, 2)).toBe(true);
    // Only the plain turn got past the hung call; the turns stuck in it were answered all the same.
    expect(released).toBe(1);
  });
});
