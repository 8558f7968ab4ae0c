import { createHash, timingSafeEqual } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AgentCard } from "../gen/switchboard/v1/agent_pb.js";
import {
  type AgentInstance,
  AgentInstanceSchema,
  BreakerState,
  DeregisterResponseSchema,
  HeartbeatResponseSchema,
  InstanceHealth,
  ListAgentsResponseSchema,
  RegisterResponseSchema,
  RegistryService,
} from "../gen/switchboard/v1/registry_pb.js";
import { invalidArgument } from "../core/errors.js";
import { validateId } from "../core/ids.js";
import type { Mesh, ServingStatusName } from "../mesh/mesh.js";
import type { InstanceInfo, Registry } from "../mesh/registry.js";

/**
 * cardLimits bound what an agent may put in its card.
 */
export const cardLimits = {
  intents: 256,
  metadataEntries: 64,
  textChars: 1024,
  endpointChars: 512,
};

const intentPattern = /^[A-Za-z0-9._:/-]{1,128}$/;

/**
 * RegistryDeps are what the RegistryService handlers need.
 */
export interface RegistryDeps {
  registry: Registry;
  mesh: Mesh;
  /** The token agents must present to register; none when empty. */
  token: string;
}

/**
 * registryService implements switchboard.v1.RegistryService: agents
 * register with a lease and keep it alive by heartbeat; operators list the
 * instances with their health, breaker state, load and latency.
 */
export function registryService(deps: RegistryDeps): ServiceImpl<typeof RegistryService> {
  const { registry, mesh } = deps;
  const authorize = tokenCheck(deps.token);
  return {
    async register(req, ctx) {
      authorize(req.token, ctx);
      if (req.card === undefined) throw invalidArgument("card", "missing: a registration needs the agent's card with at least its name");
      validateCard(req.card);
      const endpoint = validateEndpoint(req.endpoint);
      const leaseMs = req.lease === undefined ? 0 : durationMs(req.lease);
      if (!(leaseMs >= 0)) throw invalidArgument("lease", "must not be negative");
      const r = await registry.register(req.card, endpoint, leaseMs);
      return create(RegisterResponseSchema, { instanceId: r.instanceId, lease: durationFromMs(r.leaseMs) });
    },

    async heartbeat(req, ctx) {
      authorize(req.token, ctx);
      const r = await registry.heartbeat(validateId("instance_id", req.instanceId));
      return create(HeartbeatResponseSchema, { leaseExpireTime: timestampFromMs(r.expiresAt) });
    },

    async deregister(req, ctx) {
      authorize(req.token, ctx);
      await registry.deregister(validateId("instance_id", req.instanceId));
      return create(DeregisterResponseSchema, {});
    },

    async listAgents(req) {
      if (req.name !== "") validateId("name", req.name);
      const instances = registry.instances(req.name === "" ? undefined : req.name);
      return create(ListAgentsResponseSchema, { instances: instances.map((i) => describe(i, mesh)) });
    },
  };
}

function describe(info: InstanceInfo, mesh: Mesh): AgentInstance {
  const s = mesh.status(info.id);
  return create(AgentInstanceSchema, {
    instanceId: info.id,
    card: info.card,
    endpoint: info.endpoint,
    source: info.source,
    health: healthEnum[s.health],
    breaker: breakerEnum[s.breaker],
    inFlight: s.inFlight,
    ...(s.recentLatencyMs !== undefined ? { recentLatency: durationFromMs(Math.round(s.recentLatencyMs)) } : {}),
    ...(info.expiresAt !== undefined ? { leaseExpireTime: timestampFromMs(info.expiresAt) } : {}),
  });
}

const healthEnum: Record<ServingStatusName, InstanceHealth> = {
  unknown: InstanceHealth.UNSPECIFIED,
  serving: InstanceHealth.SERVING,
  not_serving: InstanceHealth.NOT_SERVING,
  ejected: InstanceHealth.EJECTED,
};

const breakerEnum = {
  closed: BreakerState.CLOSED,
  open: BreakerState.OPEN,
  half_open: BreakerState.HALF_OPEN,
} as const;

/**
 * tokenCheck returns the check of a request's registration token: the
 * `token` field or an `authorization: Bearer` header. With no token
 * configured every request passes.
 */
function tokenCheck(expected: string): (token: string, ctx: HandlerContext) => void {
  if (expected === "") return () => {};
  const digest = (s: string) => createHash("sha256").update(s).digest();
  const want = digest(expected);
  return (token, ctx) => {
    const header = ctx.requestHeader.get("authorization") ?? "";
    const given = token !== "" ? token : header.replace(/^Bearer\s+/i, "");
    if (given === "") {
      throw new ConnectError(
        "this orchestrator requires a registration token: set `token` in the request (or an `authorization: Bearer` header) to the orchestrator's --registry-token",
        Code.Unauthenticated,
      );
    }
    // Comparing digests keeps the comparison's time independent of the token.
    if (!timingSafeEqual(digest(given), want)) {
      throw new ConnectError("the registration token is not the one this orchestrator was given (--registry-token)", Code.Unauthenticated);
    }
  };
}

/**
 * validateCard checks an agent's card; every problem names the field.
 */
export function validateCard(card: AgentCard): void {
  if (card.name === "") throw invalidArgument("card.name", "must not be empty: flows route to agents by this name");
  validateId("card.name", card.name);
  for (const [field, value] of [
    ["card.version", card.version],
    ["card.description", card.description],
  ] as const) {
    if (value.length > cardLimits.textChars) throw invalidArgument(field, `longer than ${cardLimits.textChars} characters`);
  }
  if (card.intents.length > cardLimits.intents) {
    throw invalidArgument("card.intents", `${card.intents.length} intents, more than the limit of ${cardLimits.intents}`);
  }
  for (const intent of card.intents) {
    if (!intentPattern.test(intent)) {
      throw invalidArgument("card.intents", `${JSON.stringify(intent.slice(0, 40))} is not a valid intent name (1 to 128 of A-Z a-z 0-9 . _ : / -)`);
    }
  }
  const entries = Object.entries(card.metadata);
  if (entries.length > cardLimits.metadataEntries) {
    throw invalidArgument("card.metadata", `${entries.length} entries, more than the limit of ${cardLimits.metadataEntries}`);
  }
  for (const [key, value] of entries) {
    if (!intentPattern.test(key)) throw invalidArgument("card.metadata", `key ${JSON.stringify(key.slice(0, 40))} is not valid`);
    if (value.length > cardLimits.textChars) throw invalidArgument(`card.metadata[${key}]`, `longer than ${cardLimits.textChars} characters`);
  }
}

/**
 * validateEndpoint checks an instance's endpoint, an http:// or https:// URL
 * with a host and port, and returns it without a trailing slash.
 */
export function validateEndpoint(endpoint: string, field = "endpoint"): string {
  if (endpoint === "") throw invalidArgument(field, 'must not be empty: give the URL the orchestrator reaches the agent at, e.g. "http://10.0.0.7:7001"');
  if (endpoint.length > cardLimits.endpointChars) throw invalidArgument(field, `longer than ${cardLimits.endpointChars} characters`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalidArgument(field, `${JSON.stringify(endpoint.slice(0, 80))} is not a URL; use e.g. "http://10.0.0.7:7001"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalidArgument(field, `${JSON.stringify(endpoint.slice(0, 80))} must start with http:// or https://`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw invalidArgument(field, `${JSON.stringify(endpoint.slice(0, 80))} must not carry credentials, a query or a fragment`);
  }
  return endpoint.replace(/\/+$/, "");
}
