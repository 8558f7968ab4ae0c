import type { JsonValue } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { checkStructDepth, structLimits } from "./input-depth.js";

const nested = (depth: number): JsonValue => {
  let v: JsonValue = 1;
  for (let i = 1; i < depth; i++) v = { k: v };
  return v;
};

describe("checkStructDepth", () => {
  it("accepts structures up to the limit and refuses deeper ones, naming the field", () => {
    expect(() => checkStructDepth("input.event.data", nested(structLimits.depth))).not.toThrow();
    expect(() => checkStructDepth("input.event.data", nested(structLimits.depth + 2))).toThrow("input.event.data: nests deeper than 32 levels");
  });

  it("refuses a structure with too many values, and survives any depth", () => {
    expect(() => checkStructDepth("d", Array.from({ length: structLimits.values + 1 }, () => 0))).toThrow("holds more than");
    expect(() => checkStructDepth("d", nested(100_000))).toThrow("nests deeper");
  });
});
