import { parseArgs } from "node:util";
import { serveAgent } from "../../src/sdk/index.js";
import { echoAgent } from "./agent.js";

// Runs the echo agent on its own: `node dist/agents/echo/main.js --port 7001`
// (built by `npm run build`).
const { values } = parseArgs({
  options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "0" } },
});
const agent = await serveAgent({ ...echoAgent, host: values.host, port: Number(values.port) });
console.log(JSON.stringify({ msg: "agent listening", agent: agent.card.name, url: agent.url, port: agent.port }));
const stop = () => void agent.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
