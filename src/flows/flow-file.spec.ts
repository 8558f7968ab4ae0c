import { describe, expect, it } from "vitest";
import { formatProblem, parseFlowFile } from "./flow-file.js";

const lines = (text: string, file = "f.yaml", knownAgents?: (a: string) => boolean) =>
  parseFlowFile(text, file, knownAgents ? { knownAgents } : {}).problems.map(formatProblem);

describe("parseFlowFile", () => {
  it("reads YAML in the Protobuf JSON mapping, snake_case or camelCase, with durations and enums", () => {
    const parsed = parseFlowFile(
      `id: f
version: "2"
stages:
  - name: a
    agent: x
    timeout: 2.5s
    allowedIntents: [go]
    parallel_placeholder_is_not_here: 1
`,
      "f.yaml",
    );
    expect(parsed.problems.map(formatProblem)).toEqual([
      'f.yaml:8: stage a: unknown field "parallel_placeholder_is_not_here" in Stage',
      "f.yaml:4: stage a: stage has no way out: it is not terminal and has no transitions (add a transition, or terminal: true)",
    ].sort((x, y) => Number(x.split(":")[1]) - Number(y.split(":")[1])));
    expect(parsed.flow?.stages[0]?.timeout?.seconds).toBe(2n);
    expect(parsed.flow?.stages[0]?.allowedIntents).toEqual(["go"]);
  });

  it("reports each problem on its own line, and keeps checking past a bad value", () => {
    const text = `id: f
version: 3
stages:
  - name: a
    agent: x
    max_visits: lots
    transitions:
      - to: b
        when: state.n >
  - name: b
    agnt: y
    terminal: true
    parallel:
      join: JOIN_SOMETIMES
`;
    expect(lines(text, "f.yaml", (a) => a === "x")).toEqual([
      'f.yaml:2: flow: version: expected a string, got the number 3 (quote it: "3")',
      'f.yaml:6: stage a: max_visits: expected number (int32), got "lots"',
      'f.yaml:9: stage a: transition to "b" condition: does not compile: at 1:9: found > but expecting end of input',
      'f.yaml:11: stage b: unknown field "agnt" in Stage (did you mean agent?)',
      "f.yaml:13: stage b: parallel stage has no branches",
      'f.yaml:14: stage b: join: unknown value "JOIN_SOMETIMES" (use one of JOIN_UNSPECIFIED, JOIN_ALL, JOIN_ANY, JOIN_AT_LEAST)',
    ]);
  });

  it("reports YAML syntax errors and duplicate keys with their lines", () => {
    expect(lines("id: f\nversion: '1'\nid: g\n")).toEqual(["f.yaml:3: flow: Map keys must be unique"]);
    expect(lines("id: f\nstages: [\n")).toEqual([expect.stringMatching(/^f\.yaml:\d: flow: /)]);
  });

  it("locates problems in JSON files by line too", () => {
    const json = `{
  "id": "j",
  "version": "1",
  "stages": [
    { "name": "a", "agent": "x", "transitions": [{ "to": "zz" }] }
  ]
}`;
    expect(lines(json, "f.json")).toEqual(['f.json:5: stage a: transition to unknown stage "zz"']);
  });
});
