import { durationMs } from "@bufbuild/protobuf/wkt";
import { type Flow, Join, type Stage } from "../gen/switchboard/v1/flow_pb.js";
import { a2aCardUrl, a2aTargetProblem } from "./a2a-target.js";
import { migrationProblems } from "./flow-migration.js";
import { flowProgram } from "./flow-program.js";

/**
 * FlowProblem is one thing wrong with a flow definition.
 */
export interface FlowProblem {
  /** The stage the problem is in; empty for flow-level problems. */
  stage: string;
  /** The field the problem is about (see FlowPath). */
  path: FlowPath;
  message: string;
}

/**
 * defaultMaxChain bounds automatic chaining when the flow sets no bound.
 */
export const defaultMaxChain = 8;

/**
 * findStage returns the stage with the given name.
 */
export function findStage(flow: Flow, name: string): Stage | undefined {
  return flow.stages.find((s) => s.name === name);
}

/**
 * initialStage returns the stage a new session starts in.
 */
export function initialStage(flow: Flow): Stage {
  const name = flow.initialStage || flow.stages[0]?.name;
  const stage = name === undefined ? undefined : findStage(flow, name);
  if (stage === undefined) {
    // validateFlow refuses such flows; reaching this is a programming error.
    throw new Error(`flow ${flow.id} has no initial stage`);
  }
  return stage;
}

/**
 * flowKey identifies one version of a flow.
 */
export function flowKey(id: string, version: string): string {
  return `${id}@${version}`;
}

/**
 * compareVersions orders flow versions, comparing runs of digits as numbers
 * ("10" after "9", "1.10" after "1.9").
 */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/**
 * validateFlow checks a flow statically and returns every problem found,
 * not only the first: structure, references between stages, stages no
 * transition reaches, stages with no way out, every CEL expression (does it
 * compile, does it read only fields that exist), the `migrations` from
 * earlier versions and, when `knownAgents` is
 * given, that every agent the flow names exists. Each problem carries the
 * path of the field it is about, so loaders can point at its line.
 */
export function validateFlow(flow: Flow, knownAgents?: (name: string) => boolean): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const flowProblem = (path: FlowPath, message: string) => problems.push({ stage: "", path, message });
  if (flow.id === "") flowProblem(["id"], "flow has no id");
  else if (!idPattern.test(flow.id)) flowProblem(["id"], `flow id ${JSON.stringify(flow.id)} is not 1 to 128 of A-Z a-z 0-9 . _ : -`);
  if (flow.version === "") flowProblem(["version"], "flow has no version");
  else if (!idPattern.test(flow.version)) flowProblem(["version"], `flow version ${JSON.stringify(flow.version)} is not 1 to 128 of A-Z a-z 0-9 . _ : -`);
  if (flow.stages.length === 0) flowProblem(["stages"], "flow has no stages");
  if (flow.maxChain < 0) flowProblem(["max_chain"], "max_chain must not be negative");
  const names = new Set<string>();
  flow.stages.forEach((stage, i) => {
    if (stage.name === "") problems.push({ stage: "", path: ["stages", i], message: `stage #${i + 1} has no name` });
    else if (names.has(stage.name)) problems.push({ stage: stage.name, path: ["stages", i, "name"], message: `duplicate stage name ${JSON.stringify(stage.name)}` });
    names.add(stage.name);
  });
  if (flow.initialStage !== "" && !names.has(flow.initialStage)) {
    flowProblem(["initial_stage"], `initial_stage ${JSON.stringify(flow.initialStage)} is not a stage of the flow`);
  }
  const known = (name: string) => names.has(name);
  flow.stages.forEach((stage, i) => validateStage(stage, ["stages", i], known, knownAgents, problems));
  for (const field of ["hand_off_stages", "contained_stages"] as const) {
    const list = field === "hand_off_stages" ? flow.outcomes?.handOffStages : flow.outcomes?.containedStages;
    (list ?? []).forEach((name, i) => {
      if (!known(name)) flowProblem(["outcomes", field, i], `outcomes.${field}: ${JSON.stringify(name)} is not a stage of the flow`);
    });
  }
  problems.push(...graphProblems(flow));
  problems.push(...flowProgram(flow).problems);
  problems.push(...migrationProblems(flow));
  return problems;
}

/**
 * FlowPath is the path of a field in a flow, with proto field names and
 * list indexes, e.g. `["stages", 2, "transitions", 0, "when"]`.
 */
export type FlowPath = ReadonlyArray<string | number>;

const idPattern = /^[A-Za-z0-9._:-]{1,128}$/;

function validateStage(
  stage: Stage,
  at: FlowPath,
  known: (stage: string) => boolean,
  knownAgents: ((name: string) => boolean) | undefined,
  problems: FlowProblem[],
): void {
  const problem = (path: FlowPath, message: string) => problems.push({ stage: stage.name, path: [...at, ...path], message });
  const parallel = stage.parallel;
  if (parallel !== undefined) {
    if (stage.agent !== "" || Object.keys(stage.intentAgents).length > 0 || stage.fallbackAgent !== "") {
      problem(["parallel"], "a parallel stage is served by its branches: remove agent, intent_agents and fallback_agent");
    }
    if (parallel.branches.length === 0) problem(["parallel", "branches"], "parallel stage has no branches");
    const branchNames = new Set<string>();
    parallel.branches.forEach((b, j) => {
      if (b.name === "") problem(["parallel", "branches", j], `branch #${j + 1} has no name`);
      else if (branchNames.has(b.name)) problem(["parallel", "branches", j, "name"], `duplicate branch name ${JSON.stringify(b.name)}`);
      branchNames.add(b.name);
      if (b.agent === "") problem(["parallel", "branches", j], `branch ${JSON.stringify(b.name)} names no agent`);
    });
    const n = parallel.branches.length;
    if (parallel.join === Join.AT_LEAST) {
      if (parallel.minSuccesses < 1 || parallel.minSuccesses > n) {
        problem(["parallel", "min_successes"], `JOIN_AT_LEAST needs min_successes between 1 and the ${n} branches, not ${parallel.minSuccesses}`);
      }
    } else if (parallel.minSuccesses !== 0) {
      problem(["parallel", "min_successes"], "min_successes applies only to join: JOIN_AT_LEAST");
    }
    if (parallel.branchTimeout !== undefined && durationMs(parallel.branchTimeout) <= 0) {
      problem(["parallel", "branch_timeout"], "branch_timeout must be positive");
    }
  } else if (stage.agent === "" && stage.fallbackAgent === "" && Object.keys(stage.intentAgents).length === 0) {
    problem(["name"], "stage names no agent: set agent, intent_agents, fallback_agent or parallel");
  }
  // An A2A agent (`a2a:` and its card URL) is checked for its form only:
  // the orchestrator does not know it before it calls it.
  const check = (path: FlowPath, agent: string) => {
    if (agent === "") return;
    if (a2aCardUrl(agent) !== undefined) {
      const bad = a2aTargetProblem(agent);
      if (bad !== undefined) problem(path, bad);
    } else if (knownAgents !== undefined && !knownAgents(agent)) {
      problem(path, `unknown agent ${JSON.stringify(agent)}`);
    }
  };
  check(["agent"], stage.agent);
  check(["fallback_agent"], stage.fallbackAgent);
  for (const [intent, agent] of Object.entries(stage.intentAgents)) check(["intent_agents", intent], agent);
  parallel?.branches.forEach((b, j) => check(["parallel", "branches", j, "agent"], b.agent));
  if (stage.compensation) check(["compensation", "agent"], stage.compensation.agent);
  if (stage.allowedIntents.length > 0) {
    for (const intent of Object.keys(stage.intentAgents)) {
      if (!stage.allowedIntents.includes(intent)) {
        problem(["intent_agents", intent], `intent_agents routes ${JSON.stringify(intent)}, which allowed_intents does not allow`);
      }
    }
    for (const [event, intent] of Object.entries(stage.eventIntents)) {
      if (!stage.allowedIntents.includes(intent)) {
        problem(["event_intents", event], `event ${JSON.stringify(event)} maps to intent ${JSON.stringify(intent)}, which allowed_intents does not allow`);
      }
    }
  }
  if (stage.timeout !== undefined && durationMs(stage.timeout) <= 0) problem(["timeout"], "timeout must be positive");
  if (stage.retry !== undefined && stage.retry.maxAttempts < 0) problem(["retry", "max_attempts"], "max_attempts must not be negative");
  let defaultAt = -1;
  stage.transitions.forEach((t, j) => {
    if (t.to !== "" && t.back) problem(["transitions", j], "transition sets both `to` and `back`; choose one");
    if (t.to === "" && !t.back) problem(["transitions", j], "transition has neither `to` nor `back`");
    if (t.to !== "" && !known(t.to)) problem(["transitions", j, "to"], `transition to unknown stage ${JSON.stringify(t.to)}`);
    if (defaultAt >= 0) {
      problem(["transitions", j], `transition #${j + 1} follows the default transition #${defaultAt + 1} (no \`when\`), so it never applies`);
    }
    if (t.when === "" && defaultAt < 0) defaultAt = j;
  });
  if (stage.maxVisits < 0) problem(["max_visits"], "max_visits must not be negative");
  if (stage.onMaxVisits !== "") {
    if (!known(stage.onMaxVisits)) problem(["on_max_visits"], `on_max_visits names unknown stage ${JSON.stringify(stage.onMaxVisits)}`);
    if (stage.maxVisits === 0) problem(["on_max_visits"], "on_max_visits is set but max_visits is not");
  }
  if (stage.onFailure !== undefined && stage.onFailure.to !== "" && !known(stage.onFailure.to)) {
    problem(["on_failure", "to"], `on_failure names unknown stage ${JSON.stringify(stage.onFailure.to)}`);
  }
  if (stage.compensation !== undefined && stage.compensation.intent === "") {
    problem(["compensation"], "compensation names no intent to send (e.g. cancel_booking)");
  }
  if (stage.terminal && stage.transitions.length > 0) {
    problem(["transitions"], "a terminal stage ends the conversation, so its transitions never apply");
  }
  if (!stage.terminal && stage.transitions.length === 0) {
    problem(["name"], "stage has no way out: it is not terminal and has no transitions (add a transition, or terminal: true)");
  }
}

/**
 * graphProblems finds stages no path from the initial stage reaches, and
 * stages from which no terminal stage can be reached.
 */
function graphProblems(flow: Flow): FlowProblem[] {
  const index = new Map(flow.stages.map((s, i) => [s.name, i]));
  const first = flow.initialStage || flow.stages[0]?.name;
  if (first === undefined || !index.has(first)) return [];
  const edges = new Map<string, Set<string>>(flow.stages.map((s) => [s.name, new Set<string>()]));
  const add = (from: string, to: string) => {
    if (index.has(to)) edges.get(from)?.add(to);
  };
  for (const s of flow.stages) {
    for (const t of s.transitions) if (t.to !== "") add(s.name, t.to);
    if (s.onMaxVisits !== "") add(s.name, s.onMaxVisits);
    if (s.onFailure !== undefined && s.onFailure.to !== "") add(s.name, s.onFailure.to);
  }
  // "back" returns to whichever stage led here: any predecessor.
  for (const s of flow.stages) {
    if (!s.transitions.some((t) => t.back)) continue;
    for (const [from, tos] of edges) if (tos.has(s.name)) add(s.name, from);
  }
  const reach = (starts: string[], next: (name: string) => Iterable<string>) => {
    const seen = new Set(starts);
    const queue = [...starts];
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      for (const n of next(name)) if (!seen.has(n)) (seen.add(n), queue.push(n));
    }
    return seen;
  };
  const reachable = reach([first], (n) => edges.get(n) ?? []);
  const problems: FlowProblem[] = [];
  for (const [name, i] of index) {
    if (!reachable.has(name)) {
      problems.push({ stage: name, path: ["stages", i, "name"], message: `stage is unreachable: no transition, on_max_visits or on_failure leads to it from ${JSON.stringify(first)}` });
    }
  }
  const terminals = flow.stages.filter((s) => s.terminal).map((s) => s.name);
  if (terminals.length > 0) {
    const reverse = new Map<string, string[]>();
    for (const [from, tos] of edges) for (const to of tos) reverse.set(to, [...(reverse.get(to) ?? []), from]);
    const canEnd = reach(terminals, (n) => reverse.get(n) ?? []);
    for (const [name, i] of index) {
      const stage = flow.stages[i];
      if (reachable.has(name) && !canEnd.has(name) && stage !== undefined && stage.transitions.length > 0) {
        problems.push({ stage: name, path: ["stages", i, "name"], message: `no path leads from this stage to a terminal stage (${terminals.join(", ")}): the conversation could loop here forever` });
      }
    }
  }
  return problems;
}

/**
 * stageAgents lists every agent a stage may call.
 */
export function stageAgents(stage: Stage): string[] {
  const agents = new Set<string>();
  if (stage.agent !== "") agents.add(stage.agent);
  for (const a of Object.values(stage.intentAgents)) agents.add(a);
  if (stage.fallbackAgent !== "") agents.add(stage.fallbackAgent);
  for (const b of stage.parallel?.branches ?? []) agents.add(b.agent);
  if (stage.compensation !== undefined && stage.compensation.agent !== "") {
    agents.add(stage.compensation.agent);
  }
  return [...agents];
}
