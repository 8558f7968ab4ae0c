import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { StepKind, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { AgentResultSchema, Role, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { MemoryStore } from "../store/memory-store.js";
import { Engine } from "./engine.js";
import { systemClock } from "./ports.js";
import { quietTurnEvents, type TurnEvents, type TurnOutcome } from "./turn-events.js";
import type { TurnRequest } from "./turn-request.js";

const flow = create(FlowSchema, {
  id: "talk",
  version: "1",
  stages: [{ name: "talk", agent: "talker", transitions: [{ to: "talk" }] }],
});

function setup() {
  const store = new MemoryStore();
  const engine = new Engine({
    store,
    invoker: {
      has: () => true,
      invoke: async (call) => ({
        result: create(AgentResultSchema, { text: `Sure: ${call.start.input?.text ?? ""}, and here is more` }),
        instance: "fake",
        attempts: 1,
        latencyMs: 1,
        breaker: "closed",
      }),
    },
    flows: { defaultFlowId: "talk", get: (id) => (id === "talk" ? flow : undefined) },
    clock: systemClock,
    newId: () => "new-id",
    sessionTtlMs: 60_000,
    defaultAgentTimeoutMs: 1_000,
  });
  const turn = (turnId: string, text: string): TurnRequest => ({
    sessionId: "s",
    accountId: "",
    flowId: "",
    turnId,
    input: create(TurnInputSchema, { text }),
    tenant: "",
    metadata: {},
  });
  return { store, engine, turn };
}

/** listen records what the listeners hear, and stores `seq_end` details like the event log does. */
function listen(): { events: TurnEvents; heard: string[]; outcomes: TurnOutcome[] } {
  const heard: string[] = [];
  const outcomes: TurnOutcome[] = [];
  return {
    heard,
    outcomes,
    events: {
      ...quietTurnEvents,
      begun: async ({ turnId, version }) => void heard.push(`begun ${turnId} v${version}`),
      storing: ({ steps }) => {
        heard.push(`storing ${steps.map((s) => StepKind[s.kind]).join(",")}`);
        return { details: steps.map(() => ({ seq_end: "7" })), lastSeq: 7n };
      },
      settled: ({ outcome }) => {
        heard.push(`settled ${outcome.kind}`);
        outcomes.push(outcome);
      },
    },
  };
}

describe("Engine.amend", () => {
  it("cuts the latest turn's reply to what was heard, as a new version committed through the engine", async () => {
    const { store, engine, turn } = setup();
    await engine.runTurn(turn("t1", "one"), new AbortController().signal, undefined);
    const { events, heard, outcomes } = listen();
    expect(await engine.amend({ sessionId: "s", turnId: "", heard: { chars: 4, ms: 900 } }, events)).toBe("amended");
    expect(heard).toEqual(["begun t1 v1", "storing INTERRUPTION", "settled interrupted"]);
    const outcome = outcomes[0];
    expect(outcome).toMatchObject({ kind: "interrupted", heard: "Sure", heardMs: 900, afterCompletion: true });
    const session = await store.get("s");
    expect(session?.version).toBe(2n);
    expect(session?.history.map((e) => [e.role, e.text, e.interrupted])).toEqual([
      [Role.USER, "one", false],
      [Role.AGENT, "Sure", true],
    ]);
    const steps = (await store.listSteps("s", { pageSize: 0, pageToken: "" })).items;
    expect(steps.at(-1)).toMatchObject({ kind: StepKind.INTERRUPTION, status: StepStatus.INTERRUPTED, output: "Sure", version: 2n });
    expect(steps.at(-1)?.details).toMatchObject({ heard_chars: "4", heard_ms: "900", seq_end: "7" });
  });

  it("leaves a reply that was already interrupted unchanged, and refuses a turn that is not the latest", async () => {
    const { store, engine, turn } = setup();
    await engine.runTurn(turn("t1", "one"), new AbortController().signal, undefined);
    await engine.runTurn(turn("t2", "two"), new AbortController().signal, undefined);
    expect(await engine.amend({ sessionId: "s", turnId: "t2", heard: { chars: 2 } }, quietTurnEvents)).toBe("amended");
    expect(await engine.amend({ sessionId: "s", turnId: "t2", heard: { chars: 1 } }, quietTurnEvents)).toBe("unchanged");
    const err = await engine.amend({ sessionId: "s", turnId: "t1", heard: { chars: 1 } }, quietTurnEvents).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.FailedPrecondition });
    expect((err as ConnectError).rawMessage).toContain('the latest is "t2"');
    const missing = await engine.amend({ sessionId: "nobody", turnId: "", heard: {} }, quietTurnEvents).catch((e: unknown) => ConnectError.from(e));
    expect(missing).toMatchObject({ code: Code.NotFound });
    expect((await store.get("s"))?.version).toBe(3n);
  });

  it("waits for the session's running turn before it amends", async () => {
    const { engine, turn } = setup();
    await engine.runTurn(turn("t1", "one"), new AbortController().signal, undefined);
    const order: string[] = [];
    const running = engine.runTurn(turn("t2", "two"), new AbortController().signal, undefined).then(() => order.push("t2 committed"));
    const amended = engine.amend({ sessionId: "s", turnId: "t2", heard: { chars: 3 } }, quietTurnEvents).then((a) => order.push(`t2 ${a}`));
    await Promise.all([running, amended]);
    expect(order).toEqual(["t2 committed", "t2 amended"]);
  });
});

describe("the session writer", () => {
  it("is the engine alone: no code outside it and the stores calls a store's commit", () => {
    const src = join(import.meta.dirname, "..");
    const writers = new Set(["core/engine.ts", "core/turn-commit.ts"]);
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== "gen" && entry.name !== "store") walk(path);
          continue;
        }
        if (!entry.name.endsWith(".ts") || entry.name.endsWith(".spec.ts")) continue;
        const name = relative(src, path);
        if (/\.commit\(/.test(readFileSync(path, "utf8")) && !writers.has(name)) found.push(name);
      }
    };
    walk(src);
    // The instrumented store only wraps a store's commit in a span.
    expect(found).toEqual(["server/instrumented-store.ts"]);
  });
});
