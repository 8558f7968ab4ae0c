import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SessionSchema, StepSchema } from "../gen/switchboard/v1/session_pb.js";
import {
  checkNextVersion,
  committedStepOf,
  cutPage,
  failedStepOf,
  versionKey,
  versionKeyOfStep,
} from "./records.js";

describe("cutPage", () => {
  const key = (n: number) => String(n);

  it("hands out the last item's key when more rows were read than a page", () => {
    expect(cutPage([1, 2, 3], 2, key)).toEqual({ items: [1, 2], nextPageToken: "2" });
  });

  it("ends the listing when the rows fit in the page", () => {
    expect(cutPage([1, 2], 2, key)).toEqual({ items: [1, 2], nextPageToken: "" });
    expect(cutPage([], 2, key)).toEqual({ items: [], nextPageToken: "" });
  });
});

describe("stored steps", () => {
  const step = create(StepSchema, { sessionId: "s", output: "hi", turnId: "t1" });

  it("take an id in audit-trail order and the version they made, leaving the step as it was", () => {
    const s = committedStepOf(step, 12n, 3);
    expect(s.id).toBe("00000000000000000012.0003");
    expect(s.version).toBe(12n);
    expect(versionKeyOfStep(s.id)).toBe(versionKey(12n));
    expect(step.id).toBe("");
  });

  it("of failed turns sort after their version's steps, with no version", () => {
    const f = failedStepOf(step, 12n, new Date(5), "t1");
    expect(f.id).toBe("00000000000000000012.~000000000000005.t1");
    expect(f.version).toBe(0n);
    expect(committedStepOf(step, 12n, 9999).id < f.id).toBe(true);
    expect(f.id < committedStepOf(step, 13n, 0).id).toBe(true);
  });
});

describe("checkNextVersion", () => {
  it("refuses a commit that does not grow the version by one, as a bug rather than a conflict", () => {
    const commit = (v: bigint, expected: bigint) => ({
      session: create(SessionSchema, { id: "s", version: v }),
      expectedVersion: expected,
      reason: "turn",
      steps: [],
    });
    expect(() => checkNextVersion(commit(2n, 1n))).not.toThrow();
    expect(() => checkNextVersion(commit(3n, 1n))).toThrow("commit of version 3 from 1: versions must grow by one");
  });
});
