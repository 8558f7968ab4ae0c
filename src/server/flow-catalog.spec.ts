import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFlowFile } from "../flows/flow-file.js";
import { FlowCatalog, FlowLoadError } from "./flow-catalog.js";

const names = fc.constantFrom("greeting", "auth", "intent", "fulfilment", "closing", "", "a b", "$x", "../up", "🙂");
const stage = fc.record(
  {
    name: names,
    agent: fc.oneof(fc.constantFrom("echo", "", "refund"), fc.string({ maxLength: 10 })),
    allowedIntents: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
    intentAgents: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
    fallbackAgent: fc.string({ maxLength: 6 }),
    transitions: fc.array(fc.record({ to: names, when: fc.string({ maxLength: 12 }) }, { requiredKeys: [] }), { maxLength: 3 }),
    timeout: fc.constantFrom("1s", "0.5s", "-3s", "soon", "1e9s"),
  },
  { requiredKeys: [] },
);
const flowShaped = fc.record(
  {
    id: fc.oneof(fc.constantFrom("assistant", "", "x/y"), fc.string({ maxLength: 12 })),
    version: fc.oneof(fc.constantFrom("1", "2", ""), fc.string({ maxLength: 5 })),
    initialStage: names,
    maxChain: fc.oneof(fc.integer({ min: -5, max: 50 }), fc.constant("many" as unknown as number)),
    stages: fc.array(stage, { maxLength: 6 }),
  },
  { requiredKeys: [] },
);
// A valid flow, and small variations of it, so valid files are among the cases.
const validFlow = {
  id: "assistant",
  version: "1",
  stages: [
    { name: "greeting", agent: "echo", transitions: [{ to: "conversation" }] },
    { name: "conversation", agent: "echo", transitions: [{ to: "conversation" }] },
  ],
};
const flowFile = fc.oneof(
  fc.constantFrom("1", "2", "3").map((version) => JSON.stringify({ ...validFlow, version })),
  flowShaped.map((f) => JSON.stringify(f)),
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  flowShaped.map((f) => JSON.stringify(f)).chain((t) => fc.integer({ min: 0, max: t.length }).map((cut) => t.slice(0, cut))),
  fc.integer({ min: 1, max: 500 }).map((d) => `${'{"stages":['.repeat(d)}`),
);

describe("flow loader against random flow files", () => {
  it("loads a valid file or reports its problems naming the file, never anything else (2,000 cases)", () => {
    let loaded = 0;
    fc.assert(
      fc.property(flowFile, (text) => {
        const catalog = new FlowCatalog("assistant");
        try {
          const parsed = parseFlowFile(text, "fuzz.json");
          for (const p of parsed.problems) expect(p.file).toBe("fuzz.json");
          if (parsed.problems.length > 0 || parsed.flow === undefined) return;
          catalog.add(parsed.flow, "fuzz.json");
          loaded++;
        } catch (e) {
          // A TypeError or RangeError would be a crash in the loader.
          expect(e instanceof FlowLoadError || e?.constructor === Error).toBe(true);
          expect((e as Error).message).toContain("fuzz.json");
        }
      }),
      { numRuns: 2_000, seed: 8 },
    );
    // The generator does make valid flows too.
    expect(loaded).toBeGreaterThan(0);
  });
});
