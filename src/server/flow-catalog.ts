import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Flow, FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import type { FlowSource } from "../core/engine.js";
import { flowKey, validateFlow } from "../core/flow.js";

/**
 * FlowLoadError lists every problem found while loading flows.
 */
export class FlowLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid flows:\n  ${problems.join("\n  ")}`);
  }
}

/**
 * FlowCatalog holds every loaded version of every flow. A session is pinned
 * to the version it started with, so old versions stay loaded.
 */
export class FlowCatalog implements FlowSource {
  private readonly versions = new Map<string, Flow>();
  private readonly latest = new Map<string, Flow>();

  constructor(readonly defaultFlowId: string) {}

  get(id: string, version: string): Flow | undefined {
    return version === "" ? this.latest.get(id) : this.versions.get(flowKey(id, version));
  }

  all(): Flow[] {
    return [...this.versions.values()];
  }

  /**
   * add validates a flow and makes it the latest version of its id.
   */
  add(flow: Flow, source = flow.id): void {
    const problems = validateFlow(flow);
    if (problems.length > 0) {
      throw new FlowLoadError(problems.map((p) => `${source}: ${p.stage ? `stage ${p.stage}: ` : ""}${p.message}`));
    }
    this.versions.set(flowKey(flow.id, flow.version), flow);
    this.latest.set(flow.id, flow);
  }

  /**
   * loadDirectory adds every `*.json` flow file of a directory.
   */
  loadDirectory(dir: string): void {
    const problems: string[] = [];
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
      const path = join(dir, name);
      try {
        this.add(parseFlow(readFileSync(path, "utf8"), path), path);
      } catch (e) {
        if (e instanceof FlowLoadError) problems.push(...e.problems);
        else problems.push(`${path}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (problems.length > 0) throw new FlowLoadError(problems);
  }
}

/**
 * parseFlow reads a flow from its JSON form (the Protobuf JSON mapping of
 * switchboard.v1.Flow).
 */
export function parseFlow(text: string, source: string): Flow {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new Error(`${source}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return fromJson(FlowSchema, json);
  } catch (e) {
    throw new Error(`${source}: not a switchboard.v1.Flow: ${e instanceof Error ? e.message : String(e)}`);
  }
}
