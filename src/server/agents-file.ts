import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { parse } from "yaml";
import { AgentCardSchema } from "../gen/switchboard/v1/agent_pb.js";
import { a2aPrefix, a2aTargetProblem } from "../core/a2a-target.js";
import type { AgentLimits } from "../mesh/mesh.js";
import type { StaticInstance } from "../mesh/registry.js";
import { validateCard, validateEndpoint } from "./registry-service.js";

/**
 * AgentsFile is the static part of the registry, read from a JSON or YAML
 * file:
 *
 * ```yaml
 * agents:                      # instances, each with its agent's name and endpoint
 *   - name: billing
 *     endpoint: http://10.0.0.7:7001
 *     version: "2.1"           # optional card fields: version, description, intents, metadata
 *     intents: [billing_question]
 *   - name: billing
 *     endpoint: http://10.0.0.8:7001
 *   - name: weather            # an A2A agent: a2a: and its Agent Card's URL
 *     endpoint: a2a:https://weather.example.com/.well-known/agent-card.json
 * limits:                      # optional per-agent bulkheads
 *   billing:
 *     max_concurrent_turns: 16
 *     max_queued_turns: 32
 * ```
 */
export interface AgentsFile {
  instances: StaticInstance[];
  limits: Record<string, Partial<AgentLimits>>;
}

/**
 * AgentsFileError is a problem in an agents file, naming the file and field.
 */
export class AgentsFileError extends Error {}

const instanceKeys = new Set(["name", "endpoint", "version", "description", "intents", "metadata"]);
const limitKeys: Record<string, keyof AgentLimits> = {
  max_concurrent_turns: "maxConcurrentTurns",
  max_queued_turns: "maxQueuedTurns",
};

/**
 * loadAgentsFile reads and validates an agents file (YAML, of which JSON is
 * a subset).
 */
export function loadAgentsFile(path: string): AgentsFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new AgentsFileError(`${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new AgentsFileError(`${path}: not valid YAML or JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseAgentsFile(doc, path);
}

/**
 * parseAgentsFile validates a parsed agents file.
 */
export function parseAgentsFile(doc: unknown, source: string): AgentsFile {
  const fail = (where: string, problem: string): never => {
    throw new AgentsFileError(`${source}: ${where}: ${problem}`);
  };
  if (!isObject(doc)) return fail("top level", "must be a mapping with `agents` (and optionally `limits`)");
  for (const key of Object.keys(doc)) if (key !== "agents" && key !== "limits") fail(key, "unknown key; expected `agents` or `limits`");
  const agents = doc["agents"] ?? [];
  if (!Array.isArray(agents)) return fail("agents", "must be a list of instances");
  const instances = agents.map((a: unknown, i): StaticInstance => {
    const where = `agents[${i}]`;
    if (!isObject(a)) return fail(where, "must be a mapping with `name` and `endpoint`");
    for (const key of Object.keys(a)) if (!instanceKeys.has(key)) fail(`${where}.${key}`, `unknown key; expected one of ${[...instanceKeys].join(", ")}`);
    const str = (key: string): string => {
      const v = a[key] ?? "";
      if (typeof v !== "string") fail(`${where}.${key}`, "must be a string");
      return v as string;
    };
    const intents = a["intents"] ?? [];
    if (!Array.isArray(intents) || !intents.every((x) => typeof x === "string")) fail(`${where}.intents`, "must be a list of strings");
    const metadata = a["metadata"] ?? {};
    if (!isObject(metadata) || !Object.values(metadata).every((x) => typeof x === "string")) fail(`${where}.metadata`, "must map strings to strings");
    const card = {
      version: str("version"),
      description: str("description"),
      intents: intents as string[],
      metadata: metadata as Record<string, string>,
    };
    const name = str("name");
    let endpoint = str("endpoint");
    try {
      validateCard(create(AgentCardSchema, { ...card, name }));
      // An A2A agent's instance is its card URL after `a2a:`.
      const a2a = endpoint.startsWith(a2aPrefix) ? a2aTargetProblem(endpoint) : undefined;
      if (a2a !== undefined) fail(`${where}.endpoint`, a2a);
      if (!endpoint.startsWith(a2aPrefix)) endpoint = validateEndpoint(endpoint);
    } catch (e) {
      fail(where, (e as ConnectError).rawMessage);
    }
    return { name, endpoint, card };
  });
  const limitsDoc = doc["limits"] ?? {};
  if (!isObject(limitsDoc)) return fail("limits", "must map agent names to limits");
  const limits: Record<string, Partial<AgentLimits>> = {};
  for (const [name, l] of Object.entries(limitsDoc)) {
    const where = `limits.${name}`;
    if (!isObject(l)) return fail(where, "must be a mapping with max_concurrent_turns and/or max_queued_turns");
    const out: Partial<AgentLimits> = {};
    for (const [key, v] of Object.entries(l)) {
      const field = limitKeys[key];
      if (field === undefined) return fail(`${where}.${key}`, `unknown key; expected ${Object.keys(limitKeys).join(" or ")}`);
      const min = field === "maxQueuedTurns" ? 0 : 1;
      if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(`${where}.${key}`, `must be an integer of at least ${min}`);
      out[field] = v as number;
    }
    limits[name] = out;
  }
  return { instances, limits };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
