import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type Flow, FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { Action, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { Engine } from "../core/engine.js";
import { fakeInvoker } from "../core/fake-invoker.js";
import { validateFlow } from "../core/flow.js";
import { systemClock } from "../core/ports.js";
import { MemoryStore } from "../store/memory-store.js";
import { parseCaseFile } from "./case-file.js";
import { celLiteral, recordCase, stateChecks } from "./case-record.js";
import { runCase } from "./case-run.js";
import { replaySession } from "./replay.js";

function flow(threshold: number, version = "1"): Flow {
  const f = create(FlowSchema, {
    id: "count",
    version,
    initialStage: "ask",
    stages: [
      { name: "ask", agent: "counter", transitions: [{ to: "done", when: `state.n > ${threshold}.0` }, { to: "ask" }] },
      { name: "done", agent: "closer", terminal: true },
    ],
  });
  expect(validateFlow(f)).toEqual([]);
  return f;
}

/** converse holds a conversation on the engine and returns its stored history. */
async function converse(f: Flow, inputs: Array<MessageInitShape<typeof TurnInputSchema>>) {
  const store = new MemoryStore();
  let n = 0;
  let ids = 0;
  const engine = new Engine({
    store,
    invoker: fakeInvoker({
      counter: (call) => ({ text: `heard ${call.start.input?.text}`, statePatch: { n: ++n, last: call.start.input?.text ?? "" } }),
      closer: () => ({ text: "bye", next: { action: Action.END } }),
    }),
    flows: { defaultFlowId: f.id, get: () => f },
    clock: systemClock,
    newId: () => `id-${++ids}`,
    sessionTtlMs: 60_000,
    defaultAgentTimeoutMs: 1_000,
  });
  for (const input of inputs) {
    await engine.runTurn({ sessionId: "s1", accountId: "acct", flowId: f.id, turnId: "", input: create(TurnInputSchema, input), tenant: "", metadata: {} }, new AbortController().signal, undefined);
  }
  const page = { pageSize: 1000, pageToken: "" };
  const session = await store.get("s1");
  if (session === undefined) throw new Error("no session");
  return { session, steps: (await store.listSteps("s1", page)).items, snapshots: (await store.listSnapshots("s1", page)).items };
}

describe("recordCase", () => {
  it("writes a stored conversation as a case that passes on its flow version and fails on a changed one", async () => {
    const history = await converse(flow(1), [{ text: "one" }, { text: "two" }, { text: "three" }]);
    const text = recordCase(history);
    expect(text).toContain("flow: count@1");
    const parsed = parseCaseFile(text, "recorded.yaml");
    expect(parsed.problems).toEqual([]);
    const testCase = parsed.cases[0];
    if (testCase === undefined) throw new Error("no case");
    expect(testCase.turns.map((t) => t.expect.stage)).toEqual(["ask", "done", "done"]);
    expect(testCase.turns[1]?.expect.state.map((s) => s.expr)).toEqual(["state.n == 2.0", 'state.last == "two"']);
    expect((await runCase(testCase, flow(1))).mismatch).toBeUndefined();
    const changed = await runCase(testCase, flow(5, "2"));
    expect(changed.mismatch).toMatchObject({ turn: 2, what: "stage", expected: "done", actual: "ask" });
  });

  it("replays a conversation against another version, turn by turn, and stops where the recording has no reply", async () => {
    const history = await converse(flow(1), [{ text: "one" }, { text: "two" }, { text: "three" }]);
    const same = await replaySession(history, flow(1));
    expect(same.departures).toEqual([]);
    expect(same.outcome.recorded).toBe(same.outcome.replayed);
    const changed = await replaySession(history, flow(5, "2"));
    expect(changed.departures[0]).toMatchObject({ turn: 2, stage: "ask", differ: [{ what: "stage", recorded: "done", replayed: "ask" }], state: [] });
    // Turn 3 calls the counter again, where the recording has the closer's reply only.
    expect(changed.stopped).toEqual({ turn: 3, reason: "the recording has no reply of agent counter at stage ask in turn 3" });
    expect(changed.outcome).toEqual({ recorded: "completed (completed)", replayed: "stopped at turn 3" });
  });
});

describe("stateChecks", () => {
  it("writes each changed key as a CEL equality and each removed key as !has", () => {
    expect(stateChecks({ a: 1, gone: true, same: "x" }, { a: 2, same: "x", "odd-key": [1, "y"], m: { k: 1.5 } })).toEqual([
      "state.a == 2.0",
      'state["odd-key"] == [1.0, "y"]',
      'state.m == {"k": 1.5}',
      "!has(state.gone)",
    ]);
    expect(celLiteral(null)).toBe("null");
  });
});
