// A bare pass-through relay on Connect: serves AgentService.HandleTurn and
// forwards every stream, message by message, to one upstream agent. No
// logic: the floor for one extra hop on this stack.
// Usage: relay-connect.ts --port PORT --upstream URL
import { parseArgs } from "node:util";
import { createClient, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AgentService } from "../../src/gen/switchboard/v1/agent_pb.js";
import { grpcTransport } from "../../src/mesh/connection-pool.js";
import { HttpServer } from "../../src/server/http-server.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, upstream: { type: "string" } } });
const upstream = createClient(AgentService, grpcTransport(values.upstream ?? "").transport);
const routes = (router: ConnectRouter) =>
  router.service(AgentService, {
    handleTurn: (requests, ctx) => upstream.handleTurn(requests, { signal: ctx.signal }),
    describe: (req, ctx) => upstream.describe(req, { signal: ctx.signal }),
  });
const server = new HttpServer(connectNodeAdapter({ routes }), { host: "127.0.0.1", port: Number(values.port) });
const port = await server.listen();
console.log(JSON.stringify({ msg: "relay listening", url: `http://127.0.0.1:${port}`, port }));
process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
