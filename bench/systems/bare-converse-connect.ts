// A bare gRPC server on Connect that serves OrchestratorService.Converse by
// holding every stream open, idle, until the client closes it: what one
// idle stream costs on this stack, with nothing of Switchboard's.
// Usage: bare-converse-connect.ts --port PORT
import { parseArgs } from "node:util";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { OrchestratorService } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { HttpServer } from "../../src/server/http-server.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });
const routes = (router: ConnectRouter) =>
  router.service(OrchestratorService, {
    async *converse(requests) {
      for await (const _ of requests) {
        // idle: read and drop
      }
    },
  });
const server = new HttpServer(connectNodeAdapter({ routes }), { host: "127.0.0.1", port: Number(values.port) });
const port = await server.listen();
console.log(JSON.stringify({ msg: "bare listening", port }));
process.once("SIGTERM", () => void server.close(0).then(() => process.exit(0)));
