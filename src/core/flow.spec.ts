import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FlowSchema, Join } from "../gen/switchboard/v1/flow_pb.js";
import { validateFlow } from "./flow.js";

describe("validateFlow", () => {
  it("accepts a sound flow", () => {
    const flow = create(FlowSchema, {
      id: "ok",
      version: "1",
      stages: [
        { name: "a", agent: "x", transitions: [{ to: "b", when: "state.go == true" }, { to: "a" }] },
        { name: "b", agent: "x", terminal: true },
      ],
    });
    expect(validateFlow(flow, (a) => a === "x")).toEqual([]);
  });

  it("reports every problem with its stage and the path of its field", () => {
    const flow = create(FlowSchema, {
      id: "broken",
      version: "1",
      stateKeys: ["amount"],
      invariants: [{ name: "positive", expr: "state.amont >= 0" }],
      stages: [
        {
          name: "start",
          agent: "ghost",
          allowedIntents: ["a"],
          intentAgents: { b: "x" },
          transitions: [{ to: "nowhere", when: "state.amount > 1" }, { to: "fan" }, { to: "end" }],
        },
        { name: "start", agent: "x", transitions: [{ to: "end" }] },
        { name: "island", agent: "x", transitions: [{ to: "end" }] },
        { name: "stuck", agent: "x" },
        {
          name: "fan",
          parallel: { branches: [{ name: "p", agent: "x" }, { name: "p", agent: "x" }], join: Join.AT_LEAST, minSuccesses: 3 },
          transitions: [{ to: "stuck", when: "state.amount >" }, { to: "loop" }],
        },
        { name: "loop", agent: "x", transitions: [{ to: "loop" }] },
        { name: "end", agent: "x", terminal: true, preconditions: [{ name: "r", expr: "result.text != ''" }] },
      ],
    });
    const problems = validateFlow(flow, (a) => a === "x").map((p) => [p.stage, p.path.join("."), p.message]);
    expect(problems).toEqual(
      expect.arrayContaining([
        ["start", "stages.1.name", 'duplicate stage name "start"'],
        ["start", "stages.0.agent", 'unknown agent "ghost"'],
        ["start", "stages.0.intent_agents.b", 'intent_agents routes "b", which allowed_intents does not allow'],
        ["start", "stages.0.transitions.0.to", 'transition to unknown stage "nowhere"'],
        ["start", "stages.0.transitions.2", "transition #3 follows the default transition #2 (no `when`), so it never applies"],
        ["fan", "stages.4.transitions.0.when", expect.stringMatching(/^transition to "stuck" condition: does not compile: at 1:\d+: /)],
        ["island", "stages.2.name", expect.stringMatching(/^stage is unreachable/)],
        ["stuck", "stages.3.name", expect.stringMatching(/^stage has no way out/)],
        ["fan", "stages.4.parallel.branches.1.name", 'duplicate branch name "p"'],
        ["fan", "stages.4.parallel.min_successes", "JOIN_AT_LEAST needs min_successes between 1 and the 2 branches, not 3"],
        ["loop", "stages.5.name", expect.stringMatching(/^no path leads from this stage to a terminal stage/)],
        ["end", "stages.6.preconditions.0.expr", expect.stringMatching(/^precondition "r": preconditions cannot read result/)],
        ["", "invariants.0.expr", 'invariant "positive": unknown field state.amont: the flow\'s state_keys are amount'],
      ]),
    );
    // fan and stuck cannot reach the terminal stage either (fan only through loop and stuck).
    expect(problems.filter(([, , m]) => String(m).startsWith("no path leads")).map(([s]) => s).sort()).toEqual(["fan", "loop"]);
    expect(problems).toHaveLength(14);
  });
});

describe("validateFlow outcomes", () => {
  it("reports an outcome stage the flow does not have", () => {
    const flow = create(FlowSchema, {
      id: "f",
      version: "1",
      stages: [{ name: "talk", agent: "a", transitions: [{ to: "talk" }] }],
      outcomes: { handOffStages: ["human"] },
    });
    expect(validateFlow(flow).map((p) => p.message)).toEqual(['outcomes.hand_off_stages: "human" is not a stage of the flow']);
  });
});
