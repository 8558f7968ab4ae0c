import type { Check, Flow, Stage, Transition } from "../gen/switchboard/v1/flow_pb.js";
import { type CelProgram, type CelVars, compileCel } from "./cel.js";
import { failedPrecondition } from "./errors.js";
import type { FlowProblem } from "./flow.js";

/**
 * CompiledCheck is a named integrity check with its compiled expression.
 */
export interface CompiledCheck {
  readonly check: Check;
  readonly program?: CelProgram;
  /** Why the expression did not compile, when it did not. */
  readonly problem?: string;
  /** The variables the expression reads (a migration checks only those that read no turn input). */
  readonly reads: ReadonlyArray<keyof CelVars>;
}

/**
 * StageProgram holds a stage's compiled expressions.
 */
export interface StageProgram {
  /** One per transition, in order; `program` is absent for the default transition. */
  readonly transitions: ReadonlyArray<{ transition: Transition; program?: CelProgram; problem?: string }>;
  readonly preconditions: readonly CompiledCheck[];
  readonly postconditions: readonly CompiledCheck[];
}

/**
 * FlowProgram is a flow with every CEL expression compiled, and the
 * problems compiling found.
 */
export interface FlowProgram {
  readonly stages: ReadonlyMap<string, StageProgram>;
  readonly invariants: readonly CompiledCheck[];
  readonly problems: readonly FlowProblem[];
  /** Hears the flow run, when it was compiled by probeFlow; never for the server's flows. */
  readonly probe?: FlowProbe;
}

/**
 * FlowRoute is how a session left a stage: transition #index (0-based) of
 * the stage, its `on_max_visits` (the stage was entered once too often) or
 * its `on_failure`.
 */
export type FlowRoute = number | "on_max_visits" | "on_failure";

/**
 * FlowProbe hears what a flow did while it ran: every check evaluated and
 * every route taken. It is how `switchboard test` measures coverage. Only
 * a flow compiled by probeFlow carries one, so the server's turns never
 * pay for it (each call site is a `probe?.` that skips its arguments).
 */
export interface FlowProbe {
  /** checked: check #index of its kind (of the stage; "" for invariants) was evaluated. */
  checked(kind: CheckKind, stage: string, index: number, holds: boolean | Error): void;
  /** taken: the session left `stage` by `route`. */
  taken(stage: string, route: FlowRoute): void;
}

const programs = new WeakMap<Flow, FlowProgram>();

/**
 * probeFlow compiles a flow with a probe: from now on every run of this
 * flow object tells the probe what it evaluated and which routes it took.
 * Meant for flows loaded for a test run, not for the server's.
 */
export function probeFlow(flow: Flow, probe: FlowProbe): void {
  programs.set(flow, compileFlow(flow, probe));
}

/**
 * flowProgram returns a flow's compiled expressions, compiling them the
 * first time the flow object is seen (flows are immutable once loaded, so
 * each is compiled once).
 */
export function flowProgram(flow: Flow): FlowProgram {
  let program = programs.get(flow);
  if (program === undefined) {
    program = compileFlow(flow);
    programs.set(flow, program);
  }
  return program;
}

function compileFlow(flow: Flow, probe?: FlowProbe): FlowProgram {
  const problems: FlowProblem[] = [];
  const opts = { stateKeys: flow.stateKeys };
  const compileChecks = (
    checks: readonly Check[],
    context: CheckKind,
    stage: string,
    path: Array<string | number>,
  ): CompiledCheck[] => {
    const names = new Set<string>();
    return checks.map((check, i) => {
      const where = [...path, i];
      const label = `${context} ${JSON.stringify(check.name || `#${i + 1}`)}`;
      if (check.name === "") problems.push({ stage, path: [...where], message: `${context} #${i + 1} has no name` });
      else if (names.has(check.name)) problems.push({ stage, path: [...where, "name"], message: `duplicate ${context} name ${JSON.stringify(check.name)}` });
      names.add(check.name);
      const compiled = compileCel(check.expr, context, opts);
      for (const p of compiled.problems) problems.push({ stage, path: [...where, "expr"], message: `${label}: ${p}` });
      const problem = compiled.problems[0];
      const program = compiled.program && probe ? probed(compiled.program, (holds) => probe.checked(context, stage, i, holds)) : compiled.program;
      return { check, reads: compiled.reads, ...(program ? { program } : {}), ...(problem ? { problem } : {}) };
    });
  };
  const stages = new Map<string, StageProgram>();
  flow.stages.forEach((stage: Stage, s) => {
    const transitions = stage.transitions.map((transition, t) => {
      if (transition.when === "") return { transition };
      const compiled = compileCel(transition.when, "transition", opts);
      for (const p of compiled.problems) {
        problems.push({
          stage: stage.name,
          path: ["stages", s, "transitions", t, "when"],
          message: `transition ${transitionLabel(transition)} condition: ${p}`,
        });
      }
      const problem = compiled.problems[0];
      return { transition, ...(compiled.program ? { program: compiled.program } : {}), ...(problem ? { problem } : {}) };
    });
    stages.set(stage.name, {
      transitions,
      preconditions: compileChecks(stage.preconditions, "precondition", stage.name, ["stages", s, "preconditions"]),
      postconditions: compileChecks(stage.postconditions, "postcondition", stage.name, ["stages", s, "postconditions"]),
    });
  });
  const invariants = compileChecks(flow.invariants, "invariant", "", ["invariants"]);
  return { stages, invariants, problems, ...(probe ? { probe } : {}) };
}

function probed(program: CelProgram, heard: (holds: boolean | Error) => void): CelProgram {
  return {
    source: program.source,
    evaluate(vars) {
      const holds = program.evaluate(vars);
      heard(holds);
      return holds;
    },
  };
}

/**
 * transitionLabel names a transition in messages: `to "closing"` or `back`.
 */
export function transitionLabel(t: Transition): string {
  return t.back ? "back" : `to ${JSON.stringify(t.to)}`;
}

/**
 * CheckKind is the kind of an integrity check.
 */
export type CheckKind = "precondition" | "postcondition" | "invariant";

/**
 * enforceChecks evaluates integrity checks in order and throws
 * FAILED_PRECONDITION naming the first one that does not hold (or cannot
 * be evaluated). `where` says where the check belongs, e.g. `stage "fulfilment"`.
 * `vars` may be a function that builds them: it runs only when there are
 * checks, as most stages and flows have none and building the variables
 * on every turn cost more than the rest of the check.
 */
export function enforceChecks(kind: CheckKind, where: string, checks: readonly CompiledCheck[], vars: CelVars | (() => CelVars)): void {
  if (checks.length === 0) return;
  if (typeof vars === "function") vars = vars();
  for (const { check, program, problem } of checks) {
    const label = `${kind} ${JSON.stringify(check.name)} of ${where}`;
    if (program === undefined) throw failedPrecondition(`${label} does not compile: ${problem ?? "no expression"}`);
    const holds = program.evaluate(vars);
    if (holds instanceof Error) {
      throw failedPrecondition(`${label} could not be evaluated: ${holds.message}${missingKeyHint(holds.message)}`);
    }
    if (!holds) {
      throw failedPrecondition(`${label} failed: ${check.message || `${check.expr} is false`}`);
    }
  }
}

/**
 * missingKeyHint suggests has() when an expression read a key that is not set.
 */
export function missingKeyHint(message: string): string {
  return /no such key|field not found/.test(message) ? " (test for optional keys with has(state.KEY))" : "";
}
