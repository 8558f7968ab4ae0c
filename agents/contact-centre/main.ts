import { parseArgs } from "node:util";
import { type RunningAgent, serveAgent } from "../../src/sdk/index.js";
import { contactCentreAgents } from "./index.js";

// Runs every contact-centre sample agent in this process, each on its own
// port: `node dist/agents/contact-centre/main.js` (built by `npm run
// build`). It prints one JSON line per agent, then one with the
// orchestrator flags that name them all.
const { values } = parseArgs({ options: { host: { type: "string", default: "127.0.0.1" } } });
const running: RunningAgent[] = [];
for (const agent of contactCentreAgents) {
  const a = await serveAgent({ ...agent, host: values.host });
  running.push(a);
  console.log(JSON.stringify({ msg: "agent listening", agent: a.card.name, url: a.url, port: a.port }));
}
console.log(
  JSON.stringify({
    msg: "agents ready",
    agents: Object.fromEntries(running.map((a) => [a.card.name, a.url])),
    flags: running.map((a) => `--agent ${a.card.name}=${a.url}`).join(" "),
  }),
);
const stop = () => void Promise.all(running.map((a) => a.close())).then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
