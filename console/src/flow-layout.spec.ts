import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FlowSchema } from "../../src/gen/switchboard/v1/flow_pb.js";
import { edgesOf, layoutFlow, servedBy, stageMarks } from "./flow-layout.js";

const flow = create(FlowSchema, {
  id: "f",
  version: "1",
  initialStage: "start",
  stages: [
    { name: "start", agent: "a", transitions: [{ to: "check", when: "state.ok" }, { to: "start" }] },
    { name: "check", parallel: { branches: [{ name: "x", agent: "x" }, { name: "y", agent: "y" }] }, compensation: { intent: "undo" }, onFailure: { compensate: true, to: "end" }, transitions: [{ to: "end" }, { back: true }] },
    { name: "end", agent: "a", terminal: true, waitReason: "a human" },
    { name: "island", agent: "a" },
  ],
});

describe("layoutFlow", () => {
  it("lists transitions with their conditions, back edges and failure edges", () => {
    expect(edgesOf(flow)).toEqual([
      { from: "start", to: "check", kind: "transition", label: "state.ok" },
      { from: "start", to: "start", kind: "transition", label: "" },
      { from: "check", to: "end", kind: "transition", label: "" },
      { from: "check", to: "start", kind: "transition", label: "back" },
      { from: "check", to: "end", kind: "failure", label: "on failure, compensate" },
    ]);
  });

  it("puts stages in rows by distance from the initial stage, unreachable ones last", () => {
    const layers = Object.fromEntries(layoutFlow(flow).nodes.map((n) => [n.stage.name, n.layer]));
    expect(layers).toEqual({ start: 0, check: 1, end: 2, island: 3 });
  });

  it("marks parallel branches, waits, compensations and terminal stages", () => {
    const [, check, end] = flow.stages;
    expect(stageMarks(check!)).toEqual(["parallel: 2 branches", "compensation: undo", "compensates on failure"]);
    expect(stageMarks(end!)).toEqual(["waits", "terminal"]);
    expect(servedBy(check!)).toBe("x, y");
  });
});
