import type { Flow, Stage } from "../gen/switchboard/v1/flow_pb.js";
import { type Step, StepKind } from "../gen/switchboard/v1/session_pb.js";
import { flowKey } from "../core/flow.js";
import { type CheckKind, type FlowProbe, type FlowRoute, probeFlow } from "../core/flow-program.js";

/**
 * CoverageItem is one thing of a flow a test run may exercise, with how
 * often it did.
 */
export interface CoverageItem {
  readonly label: string;
  hits: number;
  /** For checks: how often the check did not hold (or could not be evaluated). */
  failed?: number;
}

/**
 * CoverageKind names the sections of a coverage report.
 */
export type CoverageKind = "stages" | "transitions" | "intents" | "checks";

/**
 * CoverageReport is what a test run exercised of one flow version.
 */
export interface CoverageReport {
  /** The flow as "id@version". */
  readonly flow: string;
  readonly sections: Readonly<Record<CoverageKind, readonly CoverageItem[]>>;
}

/**
 * coverageKinds are the report's sections, in the order they are printed,
 * with the verb that says what exercising an item means.
 */
export const coverageKinds: ReadonlyArray<readonly [CoverageKind, string]> = [
  ["stages", "entered"],
  ["transitions", "taken"],
  ["intents", "routed"],
  ["checks", "evaluated"],
];

/**
 * FlowCoverage counts what runs of one flow exercise: stages entered,
 * routes taken (each transition, `on_max_visits` and `on_failure`), the
 * intents each stage routes that turns carried there, and checks
 * evaluated. It hears routes and checks through the flow's probe, so the
 * counts are the engine's own decisions, not a second reading of the flow.
 */
export class FlowCoverage {
  private readonly stages = new Map<string, CoverageItem>();
  private readonly routes = new Map<string, CoverageItem>();
  private readonly intents = new Map<string, CoverageItem>();
  private readonly checks = new Map<string, CoverageItem>();

  constructor(readonly flow: Flow) {
    for (const stage of flow.stages) {
      this.stages.set(stage.name, { label: stage.name, hits: 0 });
      stage.transitions.forEach((t, i) => {
        const to = t.back ? "back" : t.to;
        this.routes.set(`${stage.name}#${i}`, { label: `${stage.name} → ${to}${t.when ? ` when ${t.when}` : " (otherwise)"}`, hits: 0 });
      });
      if (stage.onMaxVisits !== "") this.routes.set(`${stage.name}#on_max_visits`, { label: `${stage.name} → ${stage.onMaxVisits} (on_max_visits)`, hits: 0 });
      if (stage.onFailure?.to) this.routes.set(`${stage.name}#on_failure`, { label: `${stage.name} → ${stage.onFailure.to} (on_failure)`, hits: 0 });
      for (const intent of routedIntents(stage)) this.intents.set(`${stage.name}/${intent}`, { label: `${stage.name}: ${intent}`, hits: 0 });
      stage.preconditions.forEach((c, i) => this.checks.set(`precondition:${stage.name}#${i}`, { label: `precondition ${c.name} of ${stage.name}`, hits: 0, failed: 0 }));
      stage.postconditions.forEach((c, i) => this.checks.set(`postcondition:${stage.name}#${i}`, { label: `postcondition ${c.name} of ${stage.name}`, hits: 0, failed: 0 }));
    }
    flow.invariants.forEach((c, i) => this.checks.set(`invariant:#${i}`, { label: `invariant ${c.name}`, hits: 0, failed: 0 }));
    const probe: FlowProbe = {
      checked: (kind: CheckKind, stage: string, index: number, holds: boolean | Error) => {
        const item = this.checks.get(`${kind}:${stage}#${index}`);
        if (item === undefined) return;
        item.hits++;
        if (holds !== true) item.failed = (item.failed ?? 0) + 1;
      },
      taken: (stage: string, route: FlowRoute) => {
        const item = this.routes.get(`${stage}#${route}`);
        if (item !== undefined) item.hits++;
      },
    };
    probeFlow(flow, probe);
  }

  /**
   * noteSteps counts the stages and intents a session's steps show: every
   * stage a step ran in or led to, and each intent a turn carried at a
   * stage that routes it.
   */
  noteSteps(steps: readonly Step[]): void {
    for (const step of steps) {
      if (step.kind !== StepKind.TURN && step.kind !== StepKind.BRANCH) continue;
      this.hitStage(step.stage);
      if (step.nextStage !== "" && step.nextStage !== step.stage) this.hitStage(step.nextStage);
      const intent = this.intents.get(`${step.stage}/${step.intent || step.input?.intent || ""}`);
      if (intent !== undefined) intent.hits++;
    }
  }

  /** hitStage counts an entry into a stage, e.g. the stage a session starts or ends in. */
  hitStage(name: string): void {
    const item = this.stages.get(name);
    if (item !== undefined) item.hits++;
  }

  /** report returns the counts so far. */
  report(): CoverageReport {
    return {
      flow: flowKey(this.flow.id, this.flow.version),
      sections: {
        stages: [...this.stages.values()],
        transitions: [...this.routes.values()],
        intents: [...this.intents.values()],
        checks: [...this.checks.values()],
      },
    };
  }
}

/**
 * routedIntents lists the intents a stage routes: those it allows, sends
 * to an agent of their own, or maps an event to.
 */
function routedIntents(stage: Stage): string[] {
  return [...new Set([...stage.allowedIntents, ...Object.keys(stage.intentAgents), ...Object.values(stage.eventIntents)])];
}
