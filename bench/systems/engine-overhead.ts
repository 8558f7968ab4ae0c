// The engine's own cost, with no network and no database: a 3-stage turn
// chained automatically on the in-memory store, the agents replaced by an
// in-process function, against a 3-node LangGraph graph with MemorySaver
// calling the same function. Prints one JSON line with both latency sets.
// Usage: engine-overhead.ts --turns N --warmup N
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";
import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { FlowSchema } from "../../src/gen/switchboard/v1/flow_pb.js";
import { AgentResultSchema, TurnInputSchema, type AgentResult } from "../../src/gen/switchboard/v1/turn_pb.js";
import { OutputDeltaSchema } from "../../src/gen/switchboard/v1/agent_pb.js";
import { Engine } from "../../src/core/engine.js";
import type { FlowSource } from "../../src/core/turn-context.js";
import { quietTurnEvents } from "../../src/core/turn-events.js";
import { type AgentInvoker, systemClock } from "../../src/core/ports.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { fromJson } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { userText } from "../lib/payload.js";
import { summarize } from "../lib/stats.js";

const { values } = parseArgs({ options: { turns: { type: "string", default: "3000" }, warmup: { type: "string", default: "500" } } });
const turns = Number(values.turns);
const warmup = Number(values.warmup);

/** echo is the agent both engines call: the echo agent's logic as a plain function. */
function echo(text: string, vars: JsonObject): { deltas: string[]; text: string; patch: JsonObject } {
  const reply = `You said: ${text}`;
  const deltas = reply.split(" ").map((w, i) => (i === 0 ? w : ` ${w}`));
  return { deltas, text: reply, patch: { turns: Number(vars["turns"] ?? 0) + 1, last_heard: text } };
}

// Switchboard: the engine with the in-memory store and an in-process invoker.
const flow = fromJson(FlowSchema, JSON.parse(readFileSync(new URL("../flows/bench-3.json", import.meta.url), "utf8")));
const flows: FlowSource = { get: (id) => (id === flow.id ? flow : undefined), defaultFlowId: flow.id };
const invoker: AgentInvoker = {
  has: () => true,
  async invoke(call) {
    const out = echo(call.start.input?.text ?? "", call.start.state ?? {});
    for (const d of out.deltas) call.onDelta(create(OutputDeltaSchema, { text: d }));
    const result: AgentResult = create(AgentResultSchema, { text: out.text, statePatch: out.patch as { [k: string]: JsonValue } });
    return { result, instance: "in-process", attempts: 1, latencyMs: 0, breaker: "closed" };
  },
};
const engine = new Engine({
  store: new MemoryStore(),
  invoker,
  flows,
  clock: systemClock,
  newId: randomUUID,
  sessionTtlMs: 3_600_000,
  defaultAgentTimeoutMs: 30_000,
});
const input = create(TurnInputSchema, { text: userText });
const signal = new AbortController().signal;

async function switchboardTurn(session: string, n: number): Promise<void> {
  await engine.runTurn(
    { sessionId: session, accountId: "", flowId: flow.id, turnId: `t${n}`, input, tenant: "", metadata: {} },
    signal,
    undefined,
    quietTurnEvents,
  );
}

// LangGraph: three nodes calling the same function, MemorySaver.
interface Said {
  role: string;
  text: string;
}
const State = Annotation.Root({
  input: Annotation<string>(),
  output: Annotation<string>(),
  messages: Annotation<Said[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  vars: Annotation<JsonObject>({ reducer: (a, b) => ({ ...a, ...b }), default: () => ({}) }),
});
const node = (first: boolean) => async (s: typeof State.State) => {
  const out = echo(s.input, s.vars);
  const said: Said[] = first ? [{ role: "user", text: s.input }] : [];
  said.push({ role: "agent", text: out.text });
  return { messages: said, vars: out.patch, output: out.text };
};
const graph = new StateGraph(State)
  .addNode("understand", node(true))
  .addNode("act", node(false))
  .addNode("reply", node(false))
  .addEdge(START, "understand")
  .addEdge("understand", "act")
  .addEdge("act", "reply")
  .addEdge("reply", END)
  .compile({ checkpointer: new MemorySaver() });

async function langgraphTurn(thread: string): Promise<void> {
  await graph.invoke({ input: userText }, { configurable: { thread_id: thread } });
}

// Conversations of 20 turns each, as a real session has a history; the
// same shape for both.
async function measure(turn: (session: string, n: number) => Promise<void>, label: string, count: number, warm: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warm + count; i++) {
    const session = `${label}-${Math.floor(i / 20)}`;
    const t0 = performance.now();
    await turn(session, i % 20);
    if (i >= warm) samples.push(performance.now() - t0);
  }
  return samples;
}

// Alternate in slices so both see the same machine.
const sb: number[] = [];
const lg: number[] = [];
const slices = 5;
for (let s = 0; s < slices; s++) {
  const warm = s === 0 ? warmup : 0;
  sb.push(...(await measure(switchboardTurn, `sb${s}`, Math.ceil(turns / slices), warm)));
  lg.push(...(await measure(langgraphTurn, `lg${s}`, Math.ceil(turns / slices), warm)));
}
console.log(JSON.stringify({ switchboard: summarize(sb), langgraph: summarize(lg) }));
