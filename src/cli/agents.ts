import { parseArgs } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { AgentInstanceSchema, BreakerState, InstanceHealth, RegistryService } from "../gen/switchboard/v1/registry_pb.js";
import { connectionOptions, connectionUsage, orchestratorClient } from "./client.js";
import { type Command, UsageError } from "./command.js";
import { table } from "./output.js";

/**
 * agentsLs lists the agent instances an orchestrator knows, over
 * RegistryService.ListAgents.
 */
export const agentsLs: Command = {
  name: ["agents", "ls"],
  summary: "list agent instances with health and breaker state",
  usage: `switchboard agents ls [NAME]

Lists the agent instances the orchestrator knows (registered or configured),
with their health, breaker state and calls in flight; NAME keeps one agent's.

Options:
  --json           print JSON instead of a table
  --help           show this help

${connectionUsage}
`,
  async run(argv, io) {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, allowPositionals: true, options: { ...connectionOptions, json: { type: "boolean" }, help: { type: "boolean" } } });
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const { values, positionals } = parsed;
    if (positionals.length > 1) throw new UsageError("expected at most one NAME");
    let instances;
    try {
      ({ instances } = await orchestratorClient(RegistryService, values, io.env).listAgents({ name: positionals[0] ?? "" }));
    } catch (e) {
      if (ConnectError.from(e).code === Code.Unimplemented) {
        io.err.write("switchboard agents ls: this orchestrator does not serve the agent registry (RegistryService.ListAgents)\n");
        return 1;
      }
      throw e;
    }
    if (values.json === true) {
      io.out.write(`${JSON.stringify(instances.map((i) => toJson(AgentInstanceSchema, i)), null, 2)}\n`);
      return 0;
    }
    const name = (e: Record<number, string>, v: number, prefix: string) => (e[v] ?? String(v)).toLowerCase().replace(prefix, "");
    io.out.write(
      table(
        ["AGENT", "VERSION", "ENDPOINT", "SOURCE", "HEALTH", "BREAKER", "IN FLIGHT"],
        instances.map((i) => [
          i.card?.name ?? "",
          i.card?.version ?? "",
          i.endpoint,
          i.source,
          name(InstanceHealth, i.health, "instance_health_"),
          name(BreakerState, i.breaker, "breaker_state_"),
          String(i.inFlight),
        ]),
      ),
    );
    return 0;
  },
};
