import { describe, expect, it } from "vitest";
import { stateDiff } from "./state-diff.js";

describe("stateDiff", () => {
  it("lists added, removed and changed leaves by path, sorted", () => {
    const rows = stateDiff({ stage: "a", state: { x: 1, gone: true }, history: [{ text: "hi" }] }, { stage: "b", state: { x: 1, y: "new" }, history: [{ text: "hi" }, { text: "yo" }] });
    expect(rows).toEqual([
      { path: "history[1].text", kind: "added", before: "", after: '"yo"' },
      { path: "stage", kind: "changed", before: '"a"', after: '"b"' },
      { path: "state.gone", kind: "removed", before: "true", after: "" },
      { path: "state.y", kind: "added", before: "", after: '"new"' },
    ]);
  });

  it("finds nothing between equal versions", () => {
    expect(stateDiff({ a: [1, { b: {} }] }, { a: [1, { b: {} }] })).toEqual([]);
  });
});
