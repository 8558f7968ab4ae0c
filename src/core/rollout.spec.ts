import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { RolloutSchema } from "../gen/switchboard/v1/rollout_pb.js";
import { assignVersion, checkWeights, describeWeights, parseWeights, rolloutBucket, rolloutKey } from "./rollout.js";

const rollout = (spec: string) => create(RolloutSchema, { flowId: "contact-centre", weights: parseWeights(spec.split(" ")), revision: 1n });

/** binomialBounds is the range holding n·p within 4.5 standard deviations (a false failure about once in 150,000 runs). */
const binomialBounds = (n: number, p: number) => {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.floor(n * p - 4.5 * sd), Math.ceil(n * p + 4.5 * sd)];
};

describe("assignVersion", () => {
  it("gives 10,000 new sessions the candidate within the binomial bounds of 10 %", () => {
    const r = rollout("2=10 1=90");
    let candidate = 0;
    for (let i = 0; i < 10_000; i++) if (assignVersion(r, rolloutKey(`s-${i}-${i * 7919}`, "")) === "2") candidate++;
    const [low, high] = binomialBounds(10_000, 0.1);
    expect(candidate).toBeGreaterThanOrEqual(low as number);
    expect(candidate).toBeLessThanOrEqual(high as number);
  });

  it("spreads uuid-like ids evenly over the hundred buckets", () => {
    const counts = new Array(100).fill(0) as number[];
    for (let i = 0; i < 100_000; i++) counts[rolloutBucket("f", `${(i * 2654435761) >>> 0}-${i.toString(16)}`)]! += 1;
    // A chi-squared statistic far below what a biased hash gives (99 degrees of freedom; p=0.0001 at 155).
    const chi = counts.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    expect(chi).toBeLessThan(155);
  });

  it("assigns the same key the same version every time, and by the account when one is set", () => {
    const r = rollout("2=50 1=50");
    const versions = new Set<string | undefined>();
    for (let i = 0; i < 50; i++) versions.add(assignVersion(r, rolloutKey(`session-${i}`, "ACC-1")));
    expect(versions.size).toBe(1);
    expect(assignVersion(r, rolloutKey("x", ""))).toBe(assignVersion(r, rolloutKey("x", "")));
  });

  it("keeps a session's version when the newest version's share grows", () => {
    const small = rollout("2=10 1=90");
    const large = rollout("2=30 1=70");
    for (let i = 0; i < 2000; i++) {
      const key = rolloutKey(`s${i}`, "");
      if (assignVersion(small, key) === "2") expect(assignVersion(large, key)).toBe("2");
    }
  });

  it("sends nothing to a version of weight 0", () => {
    const r = rollout("2=0 1=100");
    for (let i = 0; i < 1000; i++) expect(assignVersion(r, rolloutKey(`s${i}`, ""))).toBe("1");
  });
});

describe("checkWeights", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return [ConnectError.from(e).code, ConnectError.from(e).rawMessage] as const;
    }
    return undefined;
  };

  it("orders valid weights newest first", () => {
    expect(describeWeights(create(RolloutSchema, { weights: checkWeights("f", parseWeights(["1=90", "10=10"]), ["1", "10"]) }))).toBe("10=10 1=90");
  });

  it("refuses weights that do not add up to 100 with INVALID_ARGUMENT", () => {
    expect(code(() => checkWeights("f", parseWeights(["2=10", "1=80"]), ["1", "2"]))).toEqual([Code.InvalidArgument, "weights: the weights add up to 90, not 100 (2=10 1=80)"]);
    expect(code(() => checkWeights("f", parseWeights(["2=10", "2=90"]), ["2"]))?.[0]).toBe(Code.InvalidArgument);
    expect(code(() => parseWeights(["2:10"]))?.[0]).toBe(Code.InvalidArgument);
  });

  it("refuses a version that is not loaded with FAILED_PRECONDITION", () => {
    const [c, message] = code(() => checkWeights("f", parseWeights(["3=10", "1=90"]), ["1", "2"])) ?? [];
    expect(c).toBe(Code.FailedPrecondition);
    expect(message).toContain('flow f has no version "3" loaded here (loaded: 1, 2)');
  });
});
