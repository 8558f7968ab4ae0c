import { describe, expect, it } from "vitest";
import { checkKey, recordId, recordIdPrefix, recordIdsEnd, recordKeyOf, versionId } from "./mongo-version-id.js";
import { failedStepId, versionKey } from "./records.js";

describe("version ids", () => {
  const prefix = recordIdPrefix("s-1", "inc42");

  it("keep the format stored databases use: session/incarnation/20-digit version", () => {
    expect(versionId(prefix, 7)).toBe("s-1/inc42/00000000000000000007");
  });

  it("give back the key they were built from", () => {
    expect(recordKeyOf(prefix, versionId(prefix, 1234))).toBe(versionKey(1234));
    expect(recordKeyOf(prefix, recordId(prefix, "00000000000000000003.0001"))).toBe("00000000000000000003.0001");
  });

  it("sort as versions do, with a failed turn's record between its version and the next", () => {
    const failed = recordId(prefix, failedStepId(9n, new Date(0), "t1"));
    expect(versionId(prefix, 9) < failed).toBe(true);
    expect(failed < versionId(prefix, 10)).toBe(true);
    expect(versionId(prefix, 99) < versionId(prefix, 100)).toBe(true);
  });

  it("bound one incarnation's records and no other's", () => {
    const end = recordIdsEnd(prefix);
    const inRange = (id: string) => id > prefix && id < end;
    expect(inRange(versionId(prefix, 1))).toBe(true);
    expect(inRange(versionId(recordIdPrefix("s-1", "inc43"), 1))).toBe(false);
    expect(inRange(versionId(recordIdPrefix("s-10", "inc42"), 1))).toBe(false);
  });

  it("refuse keys that could break out of the format or read as operators", () => {
    expect(checkKey("turn-1.a:b~c_D")).toBe("turn-1.a:b~c_D");
    for (const bad of ["a/b", "$where", "", "x".repeat(161), "a b"]) {
      expect(() => checkKey(bad)).toThrow(/cannot be used as a key/);
    }
  });
});
