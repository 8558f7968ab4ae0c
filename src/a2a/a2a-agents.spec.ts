import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { FlowCatalog } from "../server/flow-catalog.js";
import { A2aAgents } from "./a2a-agents.js";
import type { FlowAgentDeps } from "./flow-agent.js";

const flow = (id: string) => create(FlowSchema, { id, version: "1", initialStage: "only", stages: [{ name: "only", agent: "echo", transitions: [{ to: "only" }] }] });

function agents(settings: ConstructorParameters<typeof A2aAgents>[2], tls = false): A2aAgents {
  const catalog = new FlowCatalog("main");
  catalog.add(flow("main"));
  catalog.add(flow("other"));
  // The cards need none of the turn machinery.
  return new A2aAgents({} as FlowAgentDeps, catalog, settings, { bearer: "none", mtls: false }, tls);
}

const interfaces = async (a: A2aAgents, id: string, authority: string) =>
  (await a.agent(a.flow(id)!, authority).getAgentCard()).supportedInterfaces.map((i) => [i.protocolBinding, i.url]);

describe("A2aAgents", () => {
  it("names the request's host on the cards, and offers gRPC on the default flow's only", async () => {
    const a = agents({});
    expect(await interfaces(a, "main", "sb:8080")).toEqual([["JSONRPC", "http://sb:8080/a2a/main"], ["GRPC", "sb:8080"]]);
    expect(await interfaces(a, "other", "sb:8080")).toEqual([["JSONRPC", "http://sb:8080/a2a/other"]]);
  });

  it("names the public URL instead when one is set, with the scheme's port for gRPC", async () => {
    const a = agents({ publicUrl: "https://sb.example.com/" }, true);
    expect(await interfaces(a, "main", "10.0.0.7:50051")).toEqual([["JSONRPC", "https://sb.example.com/a2a/main"], ["GRPC", "sb.example.com:443"]]);
  });

  it("serves only the flows it is given, and a default flow of its own", () => {
    const a = agents({ flows: ["other"], defaultFlow: "other" });
    expect(a.served()).toEqual(["other"]);
    expect(a.flow("main")).toBeUndefined();
    expect(a.defaultFlowId).toBe("other");
    expect(agents({ flows: [] }).served()).toEqual([]);
  });
});
