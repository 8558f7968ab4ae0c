import { describe, expect, it } from "vitest";
import { type RecentTurn, recentTurnOf, recentTurnsAfter, turnWindow } from "./mongo-turn-window.js";

describe("the turn window", () => {
  it("remembers the newest turn last, with the version it made", () => {
    const after = recentTurnsAfter([{ id: "a", v: 1 }], "b", 2);
    expect(after).toEqual([
      { id: "a", v: 1 },
      { id: "b", v: 2 },
    ]);
    expect(recentTurnOf(after, "b")).toEqual({ id: "b", v: 2 });
    expect(recentTurnOf(after, "c")).toBeUndefined();
  });

  it(`keeps only the last ${turnWindow} turns`, () => {
    let recent: RecentTurn[] = [];
    for (let v = 1; v <= turnWindow + 3; v++) recent = recentTurnsAfter(recent, `t${v}`, v);
    expect(recent).toHaveLength(turnWindow);
    expect(recentTurnOf(recent, "t3")).toBeUndefined();
    expect(recentTurnOf(recent, "t4")).toEqual({ id: "t4", v: 4 });
  });

  it("passes the window on unchanged when no client turn made the version", () => {
    const recent = [{ id: "a", v: 1 }];
    expect(recentTurnsAfter(recent, undefined, 2)).toBe(recent);
  });
});
