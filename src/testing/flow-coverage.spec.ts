import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { parseCaseFile } from "./case-file.js";
import { runCase } from "./case-run.js";
import { FlowCoverage } from "./flow-coverage.js";

const flow = create(FlowSchema, {
  id: "loop",
  version: "1",
  stages: [
    {
      name: "ask",
      agent: "a",
      maxVisits: 2,
      onMaxVisits: "human",
      preconditions: [{ name: "open", expr: "!has(state.closed)" }],
      transitions: [{ to: "done", when: "input.text == 'ok'" }, { to: "ask" }],
    },
    { name: "human", agent: "h", transitions: [{ to: "done" }] },
    { name: "done", agent: "a", terminal: true },
  ],
});

const cases = parseCaseFile(
  [
    "flow: loop",
    "stubs: { a: { text: hi }, h: { text: colleague } }",
    "cases:",
    "  - name: loops until a colleague takes over",
    "    turns:",
    "      - { text: no, expect: { stage: ask } }",
    "      - { text: no, expect: { stage: human } }",
    "      - { text: hello, expect: { stage: done } }",
    "",
  ].join("\n"),
  "loop.yaml",
);

describe("FlowCoverage", () => {
  it("counts the routes the engine took, the stages entered and the checks evaluated, and names the rest", async () => {
    expect(cases.problems).toEqual([]);
    const coverage = new FlowCoverage(flow);
    const result = await runCase(cases.cases[0] as NonNullable<(typeof cases.cases)[0]>, flow, { coverage });
    expect(result.mismatch).toBeUndefined();
    const { sections } = coverage.report();
    const hits = (items: ReadonlyArray<{ label: string; hits: number }>) => Object.fromEntries(items.map((i) => [i.label, i.hits]));
    expect(hits(sections.transitions)).toEqual({
      "ask → done when input.text == 'ok'": 0,
      "ask → ask (otherwise)": 2,
      "ask → human (on_max_visits)": 1,
      "human → done (otherwise)": 1,
    });
    expect(hits(sections.stages)).toMatchObject({ ask: expect.any(Number) as number, human: 2, done: 1 });
    expect(sections.checks).toEqual([{ label: "precondition open of ask", hits: 2, failed: 0 }]);
  });
});
