import type { Flow, Stage } from "../gen/switchboard/v1/flow_pb.js";

/**
 * FlowProblem is one thing wrong with a flow definition.
 */
export interface FlowProblem {
  /** The stage the problem is in; empty for flow-level problems. */
  stage: string;
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
 * validateFlow checks a flow's structure and returns every problem found,
 * not only the first. `knownAgents`, when given, also checks that every
 * agent the flow names exists.
 */
export function validateFlow(flow: Flow, knownAgents?: (name: string) => boolean): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const flowProblem = (message: string) => problems.push({ stage: "", message });
  if (flow.id === "") flowProblem("flow has no id");
  if (flow.version === "") flowProblem("flow has no version");
  if (flow.stages.length === 0) flowProblem("flow has no stages");
  const names = new Set<string>();
  for (const stage of flow.stages) {
    if (stage.name === "") flowProblem("a stage has no name");
    else if (names.has(stage.name)) problems.push({ stage: stage.name, message: "duplicate stage name" });
    names.add(stage.name);
  }
  if (flow.initialStage !== "" && !names.has(flow.initialStage)) {
    flowProblem(`initial_stage ${JSON.stringify(flow.initialStage)} is not a stage of the flow`);
  }
  for (const stage of flow.stages) {
    const problem = (message: string) => problems.push({ stage: stage.name, message });
    const agents = stageAgents(stage);
    if (agents.length === 0 && stage.waitReason === "") {
      problem("stage names no agent (set agent, intent_agents, fallback_agent or parallel)");
    }
    if (knownAgents !== undefined) {
      for (const agent of agents) {
        if (!knownAgents(agent)) problem(`unknown agent ${JSON.stringify(agent)}`);
      }
    }
    for (const t of stage.transitions) {
      if (t.to !== "" && !names.has(t.to)) problem(`transition to unknown stage ${JSON.stringify(t.to)}`);
      if (t.to === "" && !t.back) problem("transition has neither `to` nor `back`");
    }
    if (stage.onMaxVisits !== "" && !names.has(stage.onMaxVisits)) {
      problem(`on_max_visits names unknown stage ${JSON.stringify(stage.onMaxVisits)}`);
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
