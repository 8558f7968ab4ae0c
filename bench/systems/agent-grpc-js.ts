// The sample echo agent served with @grpc/grpc-js instead of Connect: the
// same handler (agents/echo/agent.ts), the same messages, another stack.
// Usage: agent-grpc-js.ts --port PORT
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { type ServerDuplexStream, Server, ServerCredentials } from "@grpc/grpc-js";
import {
  AgentService,
  DescribeResponseSchema,
  type HandleTurnRequest,
  type HandleTurnResponse,
  HandleTurnResponseSchema,
} from "../../src/gen/switchboard/v1/agent_pb.js";
import { AgentResultSchema } from "../../src/gen/switchboard/v1/turn_pb.js";
import { echoAgent } from "../../agents/echo/agent.js";
import type { AgentResultInit, Turn } from "../../src/sdk/index.js";
import { grpcJsService } from "../lib/grpc-js-service.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

function handleTurn(call: ServerDuplexStream<HandleTurnRequest, HandleTurnResponse>): void {
  const cancel = new AbortController();
  call.on("cancelled", () => cancel.abort());
  call.on("error", () => cancel.abort());
  call.once("data", (first: HandleTurnRequest) => {
    if (first.kind.case !== "start") {
      call.destroy(Object.assign(new Error("the first message must be `start`"), { code: 3 }));
      return;
    }
    const start = first.kind.value;
    call.on("data", (r: HandleTurnRequest) => {
      if (r.kind.case === "cancel") cancel.abort();
    });
    const turn: Turn = {
      start,
      text: start.input?.text ?? "",
      signal: cancel.signal,
      deadline: new Date(Date.now() + 60_000),
      input: (async function* () {})(),
    };
    void (async () => {
      const out = echoAgent.handler(turn);
      let text = "";
      let final: AgentResultInit | string | void;
      if (Symbol.asyncIterator in out) {
        for (let step = await out.next(); ; step = await out.next()) {
          if (step.done === true) {
            final = step.value;
            break;
          }
          const delta = typeof step.value === "string" ? { text: step.value } : step.value;
          text += delta.text ?? "";
          call.write(create(HandleTurnResponseSchema, { kind: { case: "delta", value: delta } }));
        }
      } else {
        final = await out;
      }
      const result = create(AgentResultSchema, typeof final === "string" ? { text: final } : (final ?? {}));
      if (result.text === "") result.text = text;
      call.write(create(HandleTurnResponseSchema, { kind: { case: "result", value: result } }));
      call.end();
    })().catch((e: unknown) => call.destroy(e instanceof Error ? e : new Error(String(e))));
  });
}

const server = new Server({ "grpc.max_concurrent_streams": 10_000 });
server.addService(grpcJsService(AgentService), {
  handleTurn,
  describe: (_call: unknown, cb: (e: null, r: unknown) => void) =>
    cb(null, create(DescribeResponseSchema, { card: echoAgent.card })),
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`127.0.0.1:${values.port}`, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
);
console.log(JSON.stringify({ msg: "agent listening", url: `http://127.0.0.1:${port}`, port }));
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
