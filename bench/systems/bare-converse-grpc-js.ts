// A bare gRPC server on @grpc/grpc-js that serves
// OrchestratorService.Converse by holding every stream open, idle, until
// the client closes it.
// Usage: bare-converse-grpc-js.ts --port PORT
import { parseArgs } from "node:util";
import { Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { OrchestratorService } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { grpcJsService } from "../lib/grpc-js-service.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });
const server = new Server({ "grpc.max_concurrent_streams": 10_000 });
server.addService(grpcJsService(OrchestratorService), {
  converse(call: ServerDuplexStream<unknown, unknown>) {
    call.on("data", () => undefined);
    call.on("end", () => call.end());
    call.on("error", () => undefined);
  },
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`127.0.0.1:${values.port}`, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
);
console.log(JSON.stringify({ msg: "bare listening", port }));
process.once("SIGTERM", () => {
  server.forceShutdown();
  process.exit(0);
});
