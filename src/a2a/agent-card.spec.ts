import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { agentCardOf } from "./agent-card.js";

const flow = create(FlowSchema, {
  id: "care",
  version: "2",
  description: "Customer care.",
  stages: [
    { name: "triage", description: "Find out what they want.", agent: "triage", intentAgents: { refund: "refunds" } },
    { name: "approval", agent: "approval", allowedIntents: ["approve"], eventIntents: { "approval.granted": "approve" }, waitReason: "a supervisor" },
  ],
});

describe("agentCardOf", () => {
  it("describes a flow: its conversation and intents as skills, its interfaces, streaming", () => {
    const card = agentCardOf(flow, { jsonRpcUrl: "http://h:1/a2a/care", grpcAddress: "h:1", security: { bearer: "none", mtls: false } });
    expect(card.name).toBe("care");
    expect(card.version).toBe("2");
    expect(card.supportedInterfaces.map((i) => [i.protocolBinding, i.url, i.protocolVersion])).toEqual([
      ["JSONRPC", "http://h:1/a2a/care", "1.0"],
      ["GRPC", "h:1", "1.0"],
    ]);
    expect(card.capabilities).toMatchObject({ streaming: true, pushNotifications: false, extendedAgentCard: false });
    expect(card.skills.map((s) => s.id)).toEqual(["care", "intent:refund", "intent:approve"]);
    expect(card.skills[1]?.description).toBe('The intent "refund", taken at "triage" and served by refunds. Send it as a data part {"intent": "refund"}, or say it in text.');
    expect(card.securitySchemes).toEqual({});
    expect(card.securityRequirements).toEqual([]);
  });

  it("names the bearer and mTLS schemes in one requirement, and the extended card adds the stages and the tenant", () => {
    const card = agentCardOf(flow, { jsonRpcUrl: "u", security: { bearer: "jwt", mtls: true }, tenant: "acme" }, true);
    expect(card.securitySchemes["bearer"]?.scheme).toMatchObject({ $case: "httpAuthSecurityScheme", value: { scheme: "Bearer", bearerFormat: "JWT" } });
    expect(card.securitySchemes["mtls"]?.scheme?.$case).toBe("mtlsSecurityScheme");
    expect(card.securityRequirements).toEqual([{ schemes: { bearer: { list: [] }, mtls: { list: [] } } }]);
    expect(card.supportedInterfaces[0]?.tenant).toBe("acme");
    expect(card.skills.map((s) => s.id).slice(-2)).toEqual(["stage:triage", "stage:approval"]);
    expect(card.skills.at(-1)?.description).toBe(
      'The stage "approval". Intents: approve. Events: approval.granted (a data part {"event": {"type": ...}}). Waits for a supervisor (INPUT_REQUIRED).',
    );
  });
});
