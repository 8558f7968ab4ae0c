// LangGraph JS behind the orchestrator's own SendTurn API, so the load
// generator drives it exactly as it drives Switchboard: a 3-node graph
// (understand -> act -> reply) whose nodes call the same echo agent over
// gRPC with the same client code (the mesh), checkpointed by
// @langchain/langgraph-checkpoint-mongodb on the same database (or
// MemorySaver). Every turn is one graph.invoke on the session's thread.
// Usage: langgraph-server.ts --port PORT --agent URL [--mongodb-uri URI --db NAME] [--agent-transport connect|grpc-js]
import { parseArgs } from "node:util";
import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { MongoDBSaver } from "@langchain/langgraph-checkpoint-mongodb";
import { MongoClient } from "mongodb";
import { TurnStartSchema } from "../../src/gen/switchboard/v1/agent_pb.js";
import { OrchestratorService, SendTurnResponseSchema } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { Role } from "../../src/gen/switchboard/v1/turn_pb.js";
import { Mesh } from "../../src/mesh/mesh.js";
import { Registry } from "../../src/mesh/registry.js";
import { MemoryRegistryStore } from "../../src/store/memory-registry-store.js";
import { grpcJsTransport } from "../../src/mesh/grpc-js-transport.js";
import { HttpServer } from "../../src/server/http-server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    agent: { type: "string" },
    "mongodb-uri": { type: "string" },
    db: { type: "string", default: "langgraph" },
    "agent-transport": { type: "string", default: "connect" },
  },
});

// The same agent client the orchestrator uses: the mesh over one configured instance.
const registry = new Registry({ store: new MemoryRegistryStore(), statics: [{ name: "echo", endpoint: values.agent ?? "" }] });
await registry.start();
const pool = new Mesh(registry, values["agent-transport"] === "grpc-js" ? { transport: grpcJsTransport } : {});

interface Said {
  role: "user" | "agent";
  text: string;
  stage: string;
}

const State = Annotation.Root({
  sessionId: Annotation<string>(),
  turnId: Annotation<string>(),
  input: Annotation<string>(),
  output: Annotation<string>(),
  // The transcript, as a LangGraph user keeps it: appended by a reducer.
  messages: Annotation<Said[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  // The context variables, merged key by key like Switchboard's state patches.
  vars: Annotation<JsonObject>({ reducer: (a, b) => ({ ...a, ...b }), default: () => ({}) }),
});

const node = (stage: string, first: boolean) => async (s: typeof State.State) => {
  const history = s.messages.slice(-20).map((m) => ({
    role: m.role === "user" ? Role.USER : Role.AGENT,
    text: m.text,
    stage: m.stage,
    ...(m.role === "agent" ? { agent: "echo" } : {}),
  }));
  const outcome = await pool.invoke({
    agent: "echo",
    start: create(TurnStartSchema, {
      sessionId: s.sessionId,
      turnId: s.turnId,
      flowId: "bench-3",
      stage,
      input: { text: s.input },
      state: s.vars,
      history,
      budget: { seconds: 30n },
      attempt: 1,
    }),
    signal: new AbortController().signal,
    timeoutMs: 30_000,
    onDelta: () => undefined,
  });
  const said: Said[] = first ? [{ role: "user", text: s.input, stage }] : [];
  said.push({ role: "agent", text: outcome.result.text, stage });
  return { messages: said, vars: (outcome.result.statePatch ?? {}) as { [k: string]: JsonValue }, output: outcome.result.text };
};

let mongo: MongoClient | undefined;
let checkpointer;
if (values["mongodb-uri"]) {
  mongo = new MongoClient(values["mongodb-uri"]);
  await mongo.connect();
  const saver = new MongoDBSaver({ client: mongo, dbName: values.db });
  await saver.setup();
  checkpointer = saver;
} else {
  checkpointer = new MemorySaver();
}

const graph = new StateGraph(State)
  .addNode("understand", node("understand", true))
  .addNode("act", node("act", false))
  .addNode("reply", node("reply", false))
  .addEdge(START, "understand")
  .addEdge("understand", "act")
  .addEdge("act", "reply")
  .addEdge("reply", END)
  .compile({ checkpointer });

const routes = (router: ConnectRouter) =>
  router.service(OrchestratorService, {
    async sendTurn(req) {
      const out = await graph.invoke(
        { sessionId: req.sessionId, turnId: req.turnId, input: req.input?.text ?? "" },
        { configurable: { thread_id: req.sessionId } },
      );
      return create(SendTurnResponseSchema, {
        sessionId: req.sessionId,
        turnId: req.turnId,
        output: out.output,
        agent: "echo",
        stageCompleted: "reply",
        nextStage: "understand",
      });
    },
  });
const server = new HttpServer(connectNodeAdapter({ routes }), { host: "127.0.0.1", port: Number(values.port) });
const port = await server.listen();
console.log(JSON.stringify({ msg: "langgraph listening", url: `http://127.0.0.1:${port}`, port }));
process.once("SIGTERM", () => void server.close().then(async () => {
  await mongo?.close();
  process.exit(0);
}));
