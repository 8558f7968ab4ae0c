import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import { findStage, flowKey } from "../core/flow.js";
import type { AgentInvoker } from "../core/ports.js";
import { formatProblem } from "../flows/flow-file.js";
import { compareVersions, listFlowFiles, readFlowFiles } from "../server/flow-catalog.js";
import { type CaseProblem, formatCaseProblem, parseCaseFile, type TestCase } from "./case-file.js";
import { type CaseResult, runCase } from "./case-run.js";
import { type CoverageReport, FlowCoverage } from "./flow-coverage.js";

/**
 * SuiteOptions say which cases to run against which flows.
 */
export interface SuiteOptions {
  /** Case files, or directories of them (their *.yaml and *.yml files). */
  paths: string[];
  /** The flow directory; by default the directory above the first path's directory (flows/ for flows/tests). */
  flowsDir?: string;
  /** "ID@VERSION": run the cases of flow ID against this version instead of the one they name. */
  flow?: string;
  /** Calls the agents cases do not stub. */
  live?: AgentInvoker;
}

/**
 * PlannedCase is a case with the flow version it runs against.
 */
export interface PlannedCase {
  readonly testCase: TestCase;
  readonly flow: Flow;
}

/**
 * SuitePlan is a suite read and checked: the cases to run, or every
 * problem that keeps it from running, each as `file:line: ...`.
 */
export interface SuitePlan {
  readonly cases: PlannedCase[];
  readonly problems: string[];
  readonly flowsDir: string;
}

/**
 * SuiteResult is how a suite's run went.
 */
export interface SuiteResult {
  readonly results: CaseResult[];
  /** Per flow version that ran, what the cases exercised. */
  readonly coverage: CoverageReport[];
  readonly ms: number;
}

/**
 * planSuite reads case files and the flow directory and checks the cases
 * against the flows: every flow a case names exists, and every stage it
 * names is a stage of that flow.
 */
export function planSuite(opts: SuiteOptions): SuitePlan {
  const problems: string[] = [];
  const files: string[] = [];
  for (const p of opts.paths) {
    try {
      files.push(...(statSync(p).isDirectory() ? listCaseFiles(p) : [p]));
    } catch {
      problems.push(`${p}:0: file: no such file or directory`);
    }
  }
  const first = opts.paths[0] ?? ".";
  const firstDir = (() => {
    try {
      return statSync(first).isDirectory() ? first : dirname(first);
    } catch {
      return dirname(first);
    }
  })();
  const flowsDir = opts.flowsDir ?? resolve(firstDir, "..");
  let flows: Flow[] = [];
  try {
    const read = readFlowFiles(listFlowFiles(flowsDir));
    problems.push(...read.problems.map(formatProblem));
    flows = read.flows.map((f) => f.flow);
  } catch (e) {
    problems.push(`${flowsDir}:0: file: cannot read the flow directory: ${e instanceof Error ? e.message : String(e)}`);
  }
  const [overrideId = "", overrideVersion = ""] = (opts.flow ?? "").split("@");
  if (opts.flow !== undefined && !flows.some((f) => f.id === overrideId && f.version === overrideVersion)) {
    problems.push(`${flowsDir}:0: file: --flow ${opts.flow}: no such flow version in ${flowsDir} (${flows.map((f) => flowKey(f.id, f.version)).join(", ") || "none"})`);
  }
  const cases: PlannedCase[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      problems.push(`${file}:0: file: cannot read: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    const parsed = parseCaseFile(text, file);
    problems.push(...parsed.problems.map(formatCaseProblem));
    for (const testCase of parsed.cases) {
      const version = opts.flow !== undefined && testCase.flowId === overrideId ? overrideVersion : testCase.flowVersion;
      const flow = pickFlow(flows, testCase.flowId, version);
      if (flow === undefined) {
        const known = flows.filter((f) => f.id === testCase.flowId).map((f) => f.version);
        problems.push(formatCaseProblem({ file, line: testCase.line, case: testCase.name, message: `no flow ${flowKey(testCase.flowId, version || "latest")} in ${flowsDir}${known.length ? ` (versions: ${known.join(", ")})` : ""}` }));
        continue;
      }
      const stageProblems = unknownStages(testCase, flow);
      problems.push(...stageProblems.map(formatCaseProblem));
      if (stageProblems.length === 0) cases.push({ testCase, flow });
    }
  }
  return { cases: problems.length > 0 ? [] : cases, problems, flowsDir };
}

/**
 * runSuite runs planned cases one after another, each on its own engine
 * and in-memory store, and measures what they cover of each flow version.
 */
export async function runSuite(plan: SuitePlan, opts: Pick<SuiteOptions, "live"> = {}): Promise<SuiteResult> {
  const started = performance.now();
  const coverage = new Map<Flow, FlowCoverage>();
  const results: CaseResult[] = [];
  for (const { testCase, flow } of plan.cases) {
    let c = coverage.get(flow);
    if (c === undefined) coverage.set(flow, (c = new FlowCoverage(flow)));
    results.push(await runCase(testCase, flow, { coverage: c, ...(opts.live ? { live: opts.live } : {}) }));
  }
  return { results, coverage: [...coverage.values()].map((c) => c.report()), ms: performance.now() - started };
}

/**
 * listCaseFiles lists a directory's case files (*.yaml, *.yml), sorted by name.
 */
export function listCaseFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith(".yaml") || n.endsWith(".yml"))
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile());
}

function pickFlow(flows: Flow[], id: string, version: string): Flow | undefined {
  const versions = flows.filter((f) => f.id === id);
  if (version !== "") return versions.find((f) => f.version === version);
  return versions.sort((a, b) => compareVersions(b.version, a.version))[0];
}

function unknownStages(testCase: TestCase, flow: Flow): CaseProblem[] {
  const problems: CaseProblem[] = [];
  const check = (stage: string | undefined, line: number, what: string) => {
    if (stage !== undefined && findStage(flow, stage) === undefined) {
      problems.push({ file: testCase.file, line, case: testCase.name, message: `${what} ${JSON.stringify(stage)} is not a stage of flow ${flowKey(flow.id, flow.version)} (${flow.stages.map((s) => s.name).join(", ")})` });
    }
  };
  for (const turn of testCase.turns) check(turn.expect.stage, turn.lines["stage"] ?? turn.line, "expect.stage");
  for (const replies of testCase.stubs.values()) for (const r of replies) check(r.match.stage, r.line, "match.stage");
  return problems;
}
