import { create, equals, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FlowSchema, Join, Merge } from "../gen/switchboard/v1/flow_pb.js";
import { SessionSchema, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { Action, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { MemoryStore } from "../store/memory-store.js";
import { systemClock } from "./ports.js";
import { Engine } from "./engine.js";
import { validateFlow } from "./flow.js";
import { type FakeAnswer, fakeInvoker } from "./fake-invoker.js";
import type { AgentCall } from "./ports.js";

/**
 * A flow that uses every feature the engine has, so random turns reach
 * conditions, checks, loops, waits, a parallel join, a saga and the end.
 */
const flow = create(FlowSchema, {
  id: "prop",
  version: "1",
  maxChain: 4,
  invariants: [{ name: "small_n", expr: "!has(state.n) || state.n < 9" }],
  stages: [
    {
      name: "start",
      agent: "a",
      allowedIntents: ["x", "y", "go"],
      intentAgents: { y: "b" },
      fallbackAgent: "c",
      maxVisits: 4,
      onMaxVisits: "queue",
      transitions: [{ to: "mid", when: "has(state.n) && state.n > 2" }, { to: "start" }],
    },
    {
      name: "mid",
      agent: "b",
      compensation: { intent: "undo" },
      preconditions: [{ name: "not_blocked", expr: "!has(state.block) || !state.block" }],
      postconditions: [{ name: "not_bad", expr: "!has(result.state_patch.bad)" }],
      transitions: [{ back: true, when: "input.text == 'back'" }, { to: "fan" }],
    },
    {
      name: "fan",
      parallel: {
        branches: [
          { name: "p", agent: "a" },
          { name: "q", agent: "b" },
          { name: "r", agent: "c" },
        ],
        join: Join.AT_LEAST,
        minSuccesses: 2,
        merge: Merge.LAST_WINS,
      },
      onFailure: { compensate: true, to: "start" },
      transitions: [{ to: "end", when: "has(state.n) && state.n >= 5" }, { to: "mid" }],
    },
    { name: "queue", agent: "c", waitReason: "a person", transitions: [{ to: "start" }] },
    { name: "end", agent: "a", terminal: true },
  ],
});
const stageNames = new Set(flow.stages.map((s) => s.name));

const reply = fc.record({
  action: fc.constantFrom(Action.UNSPECIFIED, Action.ADVANCE, Action.CONTINUE, Action.WAIT, Action.GOTO, Action.HANDOFF, Action.END, Action.FAIL),
  n: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
  block: fc.boolean(),
  bad: fc.boolean(),
  error: fc.boolean(),
  target: fc.constantFrom("start", "mid", "fan", "end", "nowhere", "a", "b", "ghost"),
});
type ReplyPlan = typeof reply extends fc.Arbitrary<infer T> ? T : never;

const turn = fc.record({
  text: fc.constantFrom("hi", "back", "go"),
  intent: fc.constantFrom("", "", "x", "y", "go", "nope"),
  replies: fc.array(reply, { minLength: 1, maxLength: 6 }),
});

/** scriptedAgents answer each call of agents a, b and c with the next planned reply of the turn. */
function scriptedAgents() {
  let queue: ReplyPlan[] = [];
  let next = 0;
  const answer = (call: AgentCall): FakeAnswer => {
    const r = queue[next++ % queue.length] as ReplyPlan;
    if (r.error) return new ConnectError("agent broke", Code.Internal);
    const patch: Record<string, number | boolean> = {};
    if (r.n !== undefined) patch["n"] = r.n;
    if (r.block) patch["block"] = true;
    if (r.bad) patch["bad"] = true;
    return {
      text: `${call.agent}@${call.start.stage}`,
      statePatch: patch,
      next: { action: r.action, targetStage: r.target, targetAgent: r.target, reason: "scripted" },
    };
  };
  const script = (replies: ReplyPlan[]) => {
    queue = replies;
    next = 0;
  };
  return Object.assign(fakeInvoker({ a: answer, b: answer, c: answer }), { script });
}

describe("Engine under random turn sequences", () => {
  it("keeps its invariants: +1 version per committed turn, a stage of the flow, failed turns change nothing", async () => {
    expect(validateFlow(flow)).toEqual([]);
    const outcomes = { committed: 0, failed: 0, ended: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(turn, { minLength: 1, maxLength: 14 }), async (turns) => {
        const store = new MemoryStore();
        const agents = scriptedAgents();
        let ids = 0;
        const engine = new Engine({
          store,
          invoker: agents,
          flows: { defaultFlowId: flow.id, get: (id, v) => (id === flow.id && (v === "" || v === flow.version) ? flow : undefined) },
          clock: systemClock,
          newId: () => `id-${ids++}`,
          sessionTtlMs: 60_000,
          defaultAgentTimeoutMs: 1_000,
        });
        for (const t of turns) {
          agents.script(t.replies);
          const before = await store.get("s");
          const input: MessageInitShape<typeof TurnInputSchema> = { text: t.text, intent: t.intent };
          let ok = true;
          try {
            const res = await engine.runTurn(
              { sessionId: "s", accountId: "acct", flowId: "", turnId: "", input: create(TurnInputSchema, input), tenant: "", metadata: {} },
              new AbortController().signal,
              undefined,
            );
            expect(res.session?.version).toBe((before?.version ?? 0n) + 1n);
          } catch (e) {
            expect(e).toBeInstanceOf(ConnectError);
            ok = false;
          }
          const after = await store.get("s");
          if (ok) {
            outcomes.committed++;
            expect(after?.version).toBe((before?.version ?? 0n) + 1n);
          } else {
            outcomes.failed++;
            if (before === undefined) expect(after).toBeUndefined();
            else expect(after && equals(SessionSchema, after, before)).toBe(true);
          }
          if (after !== undefined) {
            expect(stageNames.has(after.stage)).toBe(true);
            // The invariant holds, or the session ended as failed saying so
            // (a saga's compensations commit whatever the state).
            const n = after.state?.["n"];
            const holds = n === undefined || (typeof n === "number" && n < 9);
            expect(holds || (after.status === SessionStatus.FAILED && /invariant "small_n"/.test(after.summary?.outcome ?? ""))).toBe(true);
            const ended = after.status === SessionStatus.COMPLETED || after.status === SessionStatus.FAILED;
            expect(after.summary !== undefined).toBe(ended);
            if (ended) {
              outcomes.ended++;
              break;
            }
          }
        }
      }),
      { numRuns: 300, seed: Number(process.env["PROPERTY_SEED"] ?? 20240611) },
    );
    // The random sequences must exercise both sides of the invariants.
    expect(outcomes.committed).toBeGreaterThan(100);
    expect(outcomes.failed).toBeGreaterThan(100);
    expect(outcomes.ended).toBeGreaterThan(10);
  });
});
