// A bare pass-through relay on @grpc/grpc-js: serves AgentService.HandleTurn
// and forwards every stream, message by message (decoded and re-encoded,
// like any message-level proxy), to one upstream agent. No logic: the floor
// for one extra hop on this stack.
// Usage: relay-grpc-js.ts --port PORT --upstream URL
import { parseArgs } from "node:util";
import {
  type ClientDuplexStream,
  credentials,
  makeGenericClientConstructor,
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServiceError,
} from "@grpc/grpc-js";
import { AgentService, type HandleTurnRequest, type HandleTurnResponse } from "../../src/gen/switchboard/v1/agent_pb.js";
import { grpcJsService } from "../lib/grpc-js-service.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, upstream: { type: "string" } } });
const definition = grpcJsService(AgentService);
const Upstream = makeGenericClientConstructor(definition, "AgentService");
const upstream = new Upstream(new URL(values.upstream ?? "").host, credentials.createInsecure()) as unknown as {
  handleTurn(md: Metadata, opts: object): ClientDuplexStream<HandleTurnRequest, HandleTurnResponse>;
};

function handleTurn(call: ServerDuplexStream<HandleTurnRequest, HandleTurnResponse>): void {
  const deadline = call.getDeadline();
  const up = upstream.handleTurn(new Metadata(), deadline === Infinity ? {} : { deadline });
  call.on("data", (m: HandleTurnRequest) => up.write(m));
  call.on("end", () => up.end());
  call.on("cancelled", () => up.cancel());
  up.on("data", (m: HandleTurnResponse) => call.write(m));
  up.on("error", (e: ServiceError) => call.destroy(e));
  up.on("status", (s: { code: number }) => {
    if (s.code === 0) call.end();
  });
}

const server = new Server({ "grpc.max_concurrent_streams": 10_000 });
server.addService(definition, { handleTurn, describe: () => undefined });
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`127.0.0.1:${values.port}`, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
);
console.log(JSON.stringify({ msg: "relay listening", url: `http://127.0.0.1:${port}`, port }));
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
