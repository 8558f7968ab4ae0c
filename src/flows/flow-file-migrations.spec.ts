import { describe, expect, it } from "vitest";
import { formatProblem, parseFlowFile } from "./flow-file.js";

const flow = (migrations: string) => `id: f
version: "2"
state_keys: [verified, channel]
migrations:
${migrations}
stages:
  - name: start
    agent: bot
    transitions: [{ to: end }]
  - name: end
    agent: bot
    terminal: true
`;

describe("a flow file's migrations", () => {
  it("are read: from, the stage map, and the state changes", () => {
    const parsed = parseFlowFile(
      flow(`  - from: "1"
    stages: { greeting: start }
    state:
      rename: { ok: verified }
      remove: [scratch]
      defaults: { channel: phone }
      set: { verified: "has(state.verified) && state.verified" }`),
      "f.yaml",
    );
    expect(parsed.problems).toEqual([]);
    const m = parsed.flow?.migrations[0];
    expect(m?.from).toBe("1");
    expect(m?.stages).toEqual({ greeting: "start" });
    expect(m?.state?.rename).toEqual({ ok: "verified" });
    expect(m?.state?.remove).toEqual(["scratch"]);
    expect(m?.state?.defaults).toEqual({ channel: "phone" });
    expect(m?.state?.set).toEqual({ verified: "has(state.verified) && state.verified" });
  });

  it("report each problem at its line, naming its path in the file", () => {
    const parsed = parseFlowFile(
      flow(`  - from: "1"
    stages:
      greeting: welcome
    state:
      defaults: { chanel: phone }
      set:
        verified: "input.text == 'yes'"
      sett: {}
  - from: 2`),
      "f.yaml",
    );
    expect(parsed.problems.map(formatProblem)).toEqual([
      'f.yaml:7: flow: migrations[0] (from "1").stages.greeting: maps stage "greeting" to "welcome", which is not a stage of this flow (start, end)',
      'f.yaml:9: flow: migrations[0] (from "1").state.defaults.chanel: sets a default for "chanel", which is not a declared state key (the flow\'s state_keys are verified, channel)',
      'f.yaml:11: flow: migrations[0] (from "1").state.set.verified: migrations cannot read input (they can read state, session)',
      'f.yaml:12: flow: unknown field "sett" in StateMigration (did you mean set?)',
      'f.yaml:13: flow: from: expected a string, got the number 2 (quote it: "2")',
    ]);
  });
});
