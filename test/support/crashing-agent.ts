import { serveAgent } from "../../src/sdk/index.js";

// An agent process that sends part of its answer and then dies, as a
// process that crashes mid-turn does: the orchestrator sees its stream break.
const agent = await serveAgent({
  card: { name: process.argv[2] ?? "crashy" },
  async *handler() {
    yield "partial answer ";
    setTimeout(() => process.exit(1), 50);
    await new Promise(() => {});
  },
});
console.log(JSON.stringify({ msg: "agent listening", url: agent.url }));
