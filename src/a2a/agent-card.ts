import type { AgentCard, AgentInterface, AgentSkill, SecurityRequirement, SecurityScheme } from "@a2a-js/sdk";
import type { Flow, Stage } from "../gen/switchboard/v1/flow_pb.js";

/**
 * a2aProtocolVersion is the version of the Agent2Agent protocol served.
 */
export const a2aProtocolVersion = "1.0";

/**
 * CardSecurity says how callers prove who they are, as the server is
 * configured: bearer tokens (static tokens or JWTs) and client
 * certificates (mutual TLS).
 */
export interface CardSecurity {
  bearer: "none" | "token" | "jwt";
  mtls: boolean;
}

/**
 * CardPlace is where a flow's card is served from and what it offers.
 */
export interface CardPlace {
  /** The URL of the flow's JSON-RPC endpoint, e.g. http://host:8080/a2a/contact-centre. */
  jsonRpcUrl: string;
  /** The gRPC address (host:port), for the flow the gRPC binding serves; unset for the others. */
  grpcAddress?: string;
  security: CardSecurity;
  /** For the extended card: the tenant the caller's token acts for (set on the interfaces). */
  tenant?: string;
}

/**
 * agentCardOf describes a flow as an A2A agent. Its skills come from the
 * flow: one skill for the conversation as a whole, and one per intent the
 * flow routes (with the stages and agents that handle it). The extended
 * card, for authenticated callers, adds one skill per stage (what it does,
 * the intents it takes, what it waits for) and names the caller's tenant on
 * the interfaces, as A2A clients then send it in every request.
 */
export function agentCardOf(flow: Flow, place: CardPlace, extended = false): AgentCard {
  const tenant = place.tenant ?? "";
  const interfaces: AgentInterface[] = [
    { url: place.jsonRpcUrl, protocolBinding: "JSONRPC", tenant, protocolVersion: a2aProtocolVersion },
  ];
  if (place.grpcAddress !== undefined) {
    interfaces.push({ url: place.grpcAddress, protocolBinding: "GRPC", tenant, protocolVersion: a2aProtocolVersion });
  }
  const { schemes, requirements } = securityOf(place.security);
  return {
    name: flow.id,
    description: flow.description !== "" ? flow.description : `The Switchboard flow ${flow.id}`,
    supportedInterfaces: interfaces,
    provider: { organization: "Switchboard", url: "https://github.com/switchboard-mesh/switchboard" },
    version: flow.version,
    capabilities: {
      streaming: true,
      pushNotifications: false,
      extensions: [],
      // Only worth fetching when there is a caller to tell apart.
      extendedAgentCard: place.security.bearer !== "none",
    },
    securitySchemes: schemes,
    securityRequirements: requirements,
    defaultInputModes: ["text/plain", "application/json"],
    defaultOutputModes: ["text/plain"],
    skills: [conversationSkill(flow), ...intentSkills(flow), ...(extended ? flow.stages.map(stageSkill) : [])],
    signatures: [],
  };
}

function skill(id: string, name: string, description: string, tags: string[], examples: string[] = []): AgentSkill {
  return {
    id,
    name,
    description,
    tags,
    examples,
    inputModes: ["text/plain", "application/json"],
    outputModes: ["text/plain"],
    securityRequirements: [],
  };
}

function conversationSkill(flow: Flow): AgentSkill {
  return skill(
    flow.id,
    flow.id,
    `${flow.description !== "" ? `${flow.description} ` : ""}Stages: ${flow.stages.map((s) => s.name).join(" -> ")}.`,
    ["conversation", ...flow.stages.map((s) => s.name)],
  );
}

/** stageIntents are the intents a stage takes: allowed, routed to agents, or raised by events. */
function stageIntents(stage: Stage): string[] {
  return [...new Set([...stage.allowedIntents, ...Object.keys(stage.intentAgents), ...Object.values(stage.eventIntents)])];
}

function intentSkills(flow: Flow): AgentSkill[] {
  const byIntent = new Map<string, { stages: string[]; agents: Set<string> }>();
  for (const stage of flow.stages) {
    for (const intent of stageIntents(stage)) {
      const entry = byIntent.get(intent) ?? { stages: [], agents: new Set<string>() };
      entry.stages.push(stage.name);
      const agent = stage.intentAgents[intent] ?? stage.agent;
      if (agent !== "") entry.agents.add(agent);
      byIntent.set(intent, entry);
    }
  }
  return [...byIntent].map(([intent, { stages, agents }]) =>
    skill(
      `intent:${intent}`,
      intent,
      `The intent "${intent}", taken at ${stages.map((s) => `"${s}"`).join(", ")}${agents.size > 0 ? ` and served by ${[...agents].join(", ")}` : ""}. ` +
        `Send it as a data part {"intent": "${intent}"}, or say it in text.`,
      ["intent", ...stages],
    ),
  );
}

function stageSkill(stage: Stage): AgentSkill {
  const intents = stageIntents(stage);
  const events = Object.keys(stage.eventIntents);
  const parts = [
    stage.description !== "" ? stage.description : `The stage "${stage.name}".`,
    intents.length > 0 ? `Intents: ${intents.join(", ")}.` : "",
    events.length > 0 ? `Events: ${events.join(", ")} (a data part {"event": {"type": ...}}).` : "",
    stage.waitReason !== "" ? `Waits for ${stage.waitReason} (INPUT_REQUIRED).` : "",
  ];
  return skill(`stage:${stage.name}`, stage.name, parts.filter((p) => p !== "").join(" "), ["stage", ...intents]);
}

function securityOf(security: CardSecurity): { schemes: Record<string, SecurityScheme>; requirements: SecurityRequirement[] } {
  const schemes: Record<string, SecurityScheme> = {};
  const required: string[] = [];
  if (security.bearer !== "none") {
    schemes["bearer"] = {
      scheme: {
        $case: "httpAuthSecurityScheme",
        value: {
          description: "A Switchboard client token (the tokens file) or a JWT naming the tenant, sent as 'authorization: Bearer TOKEN'.",
          scheme: "Bearer",
          bearerFormat: security.bearer === "jwt" ? "JWT" : "",
        },
      },
    };
    required.push("bearer");
  }
  if (security.mtls) {
    schemes["mtls"] = {
      scheme: { $case: "mtlsSecurityScheme", value: { description: "A client certificate signed by the CA the orchestrator trusts (--tls-client-ca)." } },
    };
    required.push("mtls");
  }
  // Both are checked on every call: one requirement that names both.
  const requirements: SecurityRequirement[] = required.length > 0 ? [{ schemes: Object.fromEntries(required.map((s) => [s, { list: [] }])) }] : [];
  return { schemes, requirements };
}
