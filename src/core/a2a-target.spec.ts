import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { a2aCardUrl, a2aTargetProblem } from "./a2a-target.js";
import { validateFlow } from "./flow.js";

describe("a2a: agent names", () => {
  it("hold the card URL of an A2A agent", () => {
    expect(a2aCardUrl("a2a:https://w.example/.well-known/agent-card.json")).toBe("https://w.example/.well-known/agent-card.json");
    expect(a2aCardUrl("billing")).toBeUndefined();
    expect(a2aTargetProblem("a2a:https://w.example/.well-known/agent-card.json")).toBeUndefined();
    expect(a2aTargetProblem("billing")).toBeUndefined();
  });

  it("are refused at flow load when the URL is not an http(s) URL, naming the field", () => {
    const flow = create(FlowSchema, {
      id: "f",
      version: "1",
      stages: [
        { name: "a", agent: "a2a:weather", fallbackAgent: "a2a:ftp://x/card.json", transitions: [{ to: "b" }] },
        { name: "b", agent: "a2a:https://u:p@x/card.json", terminal: true },
      ],
    });
    const problems = validateFlow(flow).map((p) => [p.path.join("."), p.message]);
    expect(problems).toEqual([
      ["stages.0.agent", `"a2a:weather" names an A2A agent, but "weather" is not a URL; give its Agent Card's URL, e.g. "a2a:https://agent.example.com/.well-known/agent-card.json"`],
      ["stages.0.fallback_agent", `"a2a:ftp://x/card.json": an A2A agent's card URL must start with http:// or https://, e.g. "a2a:https://agent.example.com/.well-known/agent-card.json"`],
      ["stages.1.agent", `"a2a:https://u:p@x/card.json": an A2A agent's card URL must not carry credentials or a fragment`],
    ]);
  });

  it("count as known agents: only Switchboard agents are checked against the registry", () => {
    const flow = create(FlowSchema, {
      id: "f",
      version: "1",
      stages: [{ name: "a", agent: "a2a:http://127.0.0.1:9/card.json", fallbackAgent: "ghost", terminal: true }],
    });
    expect(validateFlow(flow, () => false).map((p) => p.message)).toEqual(['unknown agent "ghost"']);
  });
});
