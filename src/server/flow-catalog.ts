import { equals } from "@bufbuild/protobuf";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Flow, FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import type { FlowSource } from "../core/turn-context.js";
import { compareVersions, type FlowPath, flowKey, validateFlow } from "../core/flow.js";
import { migrationProblemsAgainst } from "../core/flow-migration.js";

export { compareVersions };
import { type FileProblem, type FlowFileOptions, formatProblem, parseFlowFile } from "../flows/flow-file.js";

/**
 * FlowLoadError lists every problem found while loading flows, each as
 * `file:line: stage NAME: message`.
 */
export class FlowLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid flows:\n  ${problems.join("\n  ")}`);
  }
}

/**
 * flowFileExtensions are the file names a flow directory's flows have.
 */
export const flowFileExtensions = [".yaml", ".yml", ".json"];

/**
 * LoadedFlows is what a successful load made available.
 */
export interface LoadedFlows {
  /** Versions loaded for the first time, as "id@version". */
  added: string[];
  /** Every loaded version, as "id@version". */
  loaded: string[];
}

/**
 * FlowCatalog holds every loaded version of every flow. A session is pinned
 * to the version it started with, so versions stay loaded after their file
 * changes or goes away; new sessions get the latest version the flow
 * directory currently holds (the highest, comparing numbers as numbers).
 */
export class FlowCatalog implements FlowSource {
  private readonly versions = new Map<string, Flow>();
  private latest = new Map<string, Flow>();
  /** Flows added in code, which a reload of the directory keeps. */
  private readonly coded = new Map<string, Flow>();
  private dir: string | undefined;

  constructor(
    readonly defaultFlowId: string,
    private readonly options: FlowFileOptions = {},
  ) {}

  get(id: string, version: string): Flow | undefined {
    return version === "" ? this.latest.get(id) : this.versions.get(flowKey(id, version));
  }

  /**
   * all lists every loaded version of every flow.
   */
  all(): Flow[] {
    return [...this.versions.values()];
  }

  /**
   * add validates a flow built in code and makes it the latest version of its id.
   */
  add(flow: Flow, source = flow.id): void {
    const problems = validateFlow(flow, this.options.knownAgents).map((p) =>
      formatProblem({ file: source, line: 0, stage: p.stage, message: p.message }),
    );
    const key = flowKey(flow.id, flow.version);
    const loaded = this.versions.get(key);
    if (loaded !== undefined && !equals(FlowSchema, loaded, flow)) {
      problems.push(`${source}: flow ${key} is already loaded with other content; give the new content a new version`);
    }
    if (problems.length > 0) throw new FlowLoadError(problems);
    this.versions.set(key, flow);
    this.latest.set(flow.id, flow);
    this.coded.set(flow.id, flow);
  }

  /**
   * loadDirectory loads every flow file (*.yaml, *.yml, *.json) of a
   * directory and remembers the directory for `reload`.
   */
  loadDirectory(dir: string): LoadedFlows {
    this.dir = dir;
    return this.reload();
  }

  /**
   * reload reads the flow directory again. It is all or nothing: when any
   * file has a problem, nothing changes and FlowLoadError lists them all. A
   * version already loaded must keep its content, since sessions are
   * pinned to it.
   */
  reload(): LoadedFlows {
    if (this.dir === undefined) throw new Error("reload: no flow directory was loaded");
    const files = listFlowFiles(this.dir);
    const { flows, problems } = readFlowFiles(files, this.options);
    for (const { flow, file, line } of flows) {
      const loaded = this.versions.get(flowKey(flow.id, flow.version));
      if (loaded !== undefined && !equals(FlowSchema, loaded, flow)) {
        problems.push({
          file,
          line,
          stage: "",
          message: `flow ${flowKey(flow.id, flow.version)} changed but kept its version; sessions are pinned to versions, so give the new content a new version`,
        });
      }
    }
    const defaultKept = this.coded.has(this.defaultFlowId) || flows.some(({ flow }) => flow.id === this.defaultFlowId);
    if (this.latest.has(this.defaultFlowId) && !defaultKept) {
      problems.push({ file: this.dir, line: 0, stage: "", message: `no file defines the default flow ${JSON.stringify(this.defaultFlowId)} any more; new sessions need it` });
    }
    if (problems.length > 0) throw new FlowLoadError(problems.map(formatProblem));
    const added: string[] = [];
    const latest = new Map<string, Flow>(this.coded);
    for (const { flow } of flows) {
      const key = flowKey(flow.id, flow.version);
      if (!this.versions.has(key)) {
        this.versions.set(key, flow);
        added.push(key);
      }
      const kept = this.versions.get(key) as Flow;
      const current = latest.get(flow.id);
      if (current === undefined || this.coded.get(flow.id) === current || compareVersions(flow.version, current.version) > 0) {
        latest.set(flow.id, kept);
      }
    }
    this.latest = latest;
    return { added, loaded: [...this.versions.keys()] };
  }
}

/**
 * listFlowFiles lists a directory's flow files, sorted by name.
 */
export function listFlowFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => flowFileExtensions.some((ext) => n.endsWith(ext)))
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile());
}

/**
 * readFlowFiles reads and checks flow files, and checks them against each
 * other: one id and version may be defined once, and a migration from a
 * version among them maps that version's stages and state keys. Every
 * problem of every file is returned.
 */
export function readFlowFiles(
  files: string[],
  options: FlowFileOptions = {},
): { flows: Array<{ flow: Flow; file: string; line: number }>; problems: FileProblem[] } {
  const flows: Array<{ flow: Flow; file: string; line: number }> = [];
  const problems: FileProblem[] = [];
  const seen = new Map<string, { file: string; line: number }>();
  const lines = new Map<Flow, (path: FlowPath) => number>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      problems.push({ file, line: 0, stage: "", message: `cannot read: ${e instanceof Error ? e.message : String(e)}` });
      continue;
    }
    const parsed = parseFlowFile(text, file, options);
    problems.push(...parsed.problems);
    if (parsed.flow === undefined || parsed.problems.length > 0) continue;
    const key = flowKey(parsed.flow.id, parsed.flow.version);
    const line = parsed.lineOf(["version"]) || 1;
    const other = seen.get(key);
    if (other !== undefined) {
      problems.push({ file, line, stage: "", message: `duplicate flow ${key}: ${other.file}:${other.line} defines it too` });
      continue;
    }
    seen.set(key, { file, line });
    lines.set(parsed.flow, parsed.lineOf);
    flows.push({ flow: parsed.flow, file, line });
  }
  for (const { flow, file } of flows) {
    for (const m of flow.migrations) {
      const older = flows.find((f) => f.flow.id === flow.id && f.flow.version === m.from)?.flow;
      if (older === undefined) continue;
      for (const p of migrationProblemsAgainst(flow, older)) {
        problems.push({ file, line: lines.get(flow)?.(p.path) || 1, stage: "", message: p.message });
      }
    }
  }
  return { flows, problems };
}
