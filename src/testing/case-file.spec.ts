import { describe, expect, it } from "vitest";
import { Action } from "../gen/switchboard/v1/turn_pb.js";
import { formatCaseProblem, parseCaseFile } from "./case-file.js";

describe("parseCaseFile", () => {
  it("reads turns, expectations and scripted agents", () => {
    const { cases, problems } = parseCaseFile(
      [
        "flow: f@2",
        "stubs:",
        "  greeter: { text: hi }",
        "cases:",
        "  - name: one",
        "    stubs:",
        "      greeter:",
        "        - { text: first, next: { action: goto, target_stage: b }, match: { turn: 1 } }",
        "        - error: unavailable",
        "    turns:",
        "      - text: hello",
        "        metadata: { permissions: a.b }",
        "        expect: { stage: b, reply_contains: [fi, st], status: waiting, state: 'state.x == 1.0' }",
        "      - event: { type: payment.failed, data: { reason: declined } }",
        "        expect: { error: unavailable, error_contains: down }",
        "",
      ].join("\n"),
      "cases.yaml",
    );
    expect(problems).toEqual([]);
    const c = cases[0];
    expect(c).toMatchObject({ name: "one", flowId: "f", flowVersion: "2", line: 5 });
    expect(c?.turns[0]?.input.metadata).toEqual({ permissions: "a.b" });
    expect(c?.turns[0]?.expect).toMatchObject({ stage: "b", replyContains: ["fi", "st"], status: "waiting" });
    expect(c?.turns[0]?.expect.state[0]?.expr).toBe("state.x == 1.0");
    expect(c?.turns[1]?.input.event?.data).toEqual({ reason: "declined" });
    expect(c?.turns[1]?.expect.error).toEqual({ code: "unavailable", contains: "down" });
    // The case's own replies come first, then the file's, which answers every call.
    const replies = c?.stubs.get("greeter") ?? [];
    expect(replies.map((r) => [r.result?.text ?? r.error?.message, r.always ?? false])).toEqual([
      ["first", false],
      ["a scripted unavailable", false],
      ["hi", true],
    ]);
    expect(replies[0]?.result?.next).toMatchObject({ action: Action.GOTO, targetStage: "b" });
    expect(replies[0]?.match).toEqual({ turn: 1 });
  });

  it("reports every problem with its line and case", () => {
    const { cases, problems } = parseCaseFile(
      [
        "cases:",
        "  - name: bad",
        "    stubs:",
        "      a: [{ next: jump }]",
        "    turns:",
        "      - text: hi",
        "        expect: { status: sleeping, reply_matches: '(' }",
        "      - expect: { error: nope }",
        "",
      ].join("\n"),
      "bad.yaml",
    );
    expect(cases).toEqual([]);
    expect(problems.map(formatCaseProblem)).toEqual([
      'bad.yaml:2: case "bad": the case names no flow: set `flow: ID` or `flow: ID@VERSION` in the file or the case',
      'bad.yaml:4: case "bad": next action "jump" is not one of advance, continue, wait, goto, handoff, end, fail',
      'bad.yaml:7: case "bad": status "sleeping" is not one of active, waiting, completed, failed',
      expect.stringMatching(/^bad\.yaml:7: case "bad": reply_matches: Invalid regular expression/),
      'bad.yaml:8: case "bad": a turn needs text, an intent or an event',
      expect.stringMatching(/^bad\.yaml:8: case "bad": error "nope" is not a gRPC code name/),
    ]);
  });
});
