import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import type { FlowCatalog } from "../server/flow-catalog.js";
import type { CardSecurity, CardPlace } from "./agent-card.js";
import { FlowAgent, type FlowAgentDeps } from "./flow-agent.js";

/**
 * A2aSettings say which flows answer as A2A agents.
 */
export interface A2aSettings {
  /** The flows served; every flow of the catalog when unset. */
  flows?: string[];
  /** The flow of the well-known card and the gRPC binding; the catalog's default flow when unset. */
  defaultFlow?: string;
  /**
   * The URL clients reach the orchestrator by (e.g. behind a proxy), for
   * the cards' interfaces; else the request's own scheme and host.
   */
  publicUrl?: string;
}

/**
 * a2aPathPrefix is where each flow's JSON-RPC endpoint and card live:
 * /a2a/FLOW and /a2a/FLOW/.well-known/agent-card.json.
 */
export const a2aPathPrefix = "/a2a/";

/**
 * A2aAgents makes the A2A agent of each served flow. One card per flow,
 * each at its own path, because a flow is what a caller talks to (its own
 * skills, its own sessions); the well-known card and the gRPC binding,
 * whose service names are fixed, serve the default flow. A flow is always
 * served at its latest version; a session stays on the version it began.
 */
export class A2aAgents {
  constructor(
    private readonly deps: FlowAgentDeps,
    private readonly flows: FlowCatalog,
    private readonly settings: A2aSettings,
    private readonly security: CardSecurity,
    private readonly tls: boolean,
  ) {}

  /** defaultFlowId is the flow of the well-known card and of gRPC. */
  get defaultFlowId(): string {
    return this.settings.defaultFlow ?? this.flows.defaultFlowId;
  }

  /** flow returns the latest version of a served flow. */
  flow(id: string): Flow | undefined {
    if (this.settings.flows !== undefined && !this.settings.flows.includes(id)) return undefined;
    return this.flows.get(id, "");
  }

  /** served lists the ids of the flows served. */
  served(): string[] {
    return [...new Set(this.flows.all().map((f) => f.id))].filter((id) => this.flow(id) !== undefined);
  }

  /**
   * agent is the A2A agent of a flow, for a request that came to `authority`
   * (its Host): its card's URLs are made from it unless a public URL is set.
   */
  agent(flow: Flow, authority: string): FlowAgent {
    return new FlowAgent(this.deps, flow, this.place(flow.id, authority));
  }

  private place(flowId: string, authority: string): CardPlace {
    const base = (this.settings.publicUrl ?? `${this.tls ? "https" : "http"}://${authority}`).replace(/\/+$/, "");
    const place: CardPlace = { jsonRpcUrl: `${base}${a2aPathPrefix}${encodeURIComponent(flowId)}`, security: this.security };
    if (flowId === this.defaultFlowId) {
      // gRPC addresses are host:port, with the port even when it is the scheme's default.
      const url = new URL(base);
      place.grpcAddress = `${url.hostname}:${url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80"}`;
    }
    return place;
  }
}
