// Profiles one stack's per-stream path: client and agent server in this one
// process (as in the first measurement), turns run back to back.
// Run with --cpu-prof to get a profile; bench/lib/profile-summary.ts sums it.
// Usage: node --cpu-prof --cpu-prof-dir DIR --import tsx bench/profile-direct.ts
//          --server connect|grpc-js --client connect|connect-over-grpc-js|grpc-js [--turns N] [--concurrency C]
import { parseArgs } from "node:util";
import { serveAgent } from "../src/sdk/index.js";
import { echoAgent } from "../agents/echo/agent.js";
import { agentClient, type ClientStack } from "./lib/clients.js";
import { turnStart } from "./lib/payload.js";
import { startChild } from "./lib/children.js";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "connect" },
    client: { type: "string", default: "connect" },
    turns: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "1" },
  },
});
let url: string;
let close: () => Promise<void>;
if (values.server === "connect") {
  const agent = await serveAgent({ ...echoAgent });
  url = agent.url;
  close = () => agent.close();
} else {
  // grpc-js agent in-process: import its module with a free port.
  process.argv.push("--port", "0");
  const child = await startChild({
    name: "profile-agent",
    command: [process.execPath, "--import", "tsx", "bench/systems/agent-grpc-js.ts", "--port", "{port}"],
    cpus: { pinned: false, load: "", sut: "", all: "", note: "" },
    logDir: "/tmp",
  });
  url = child.url;
  close = () => child.stop();
}
const client = agentClient(url, values.client as ClientStack);
const total = Number(values.turns);
const conc = Number(values.concurrency);
const start = turnStart("profile", 10);
let done = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: conc }, async () => {
    while (done < total) {
      done++;
      await client.turn(start);
    }
  }),
);
const secs = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ server: values.server, client: values.client, concurrency: conc, turns: total, perSecond: Math.round(total / secs) }));
client.close();
await close();
