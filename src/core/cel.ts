import { celEnv, type CelInput, isCelError, isCelList, isCelMap, isCelUint, parse, plan } from "@bufbuild/cel";
import type { JsonValue } from "@bufbuild/protobuf";
import { strings } from "@bufbuild/cel/ext";

/**
 * CelContext says where an expression runs, which decides the variables it
 * may read: a precondition runs before the agent (no `result`), an
 * invariant after the whole turn, a migration's `set` on a session moving
 * to another flow version (no turn: only `state` and `session`).
 */
export type CelContext = "precondition" | "postcondition" | "transition" | "invariant" | "migration";

/**
 * CelVars are the values an expression is evaluated over.
 */
export interface CelVars {
  state: { [key: string]: CelInput };
  input: { [key: string]: CelInput };
  result: { [key: string]: CelInput };
  session: { [key: string]: CelInput };
  permissions: string[];
}

/**
 * CelProgram is a compiled boolean expression, evaluated many times.
 */
export interface CelProgram {
  readonly source: string;
  /** evaluate returns the expression's value, or an Error saying why it has none. */
  evaluate(vars: CelVars): boolean | Error;
}

/**
 * CelCompileOptions tune what a compiled expression may refer to.
 */
export interface CelCompileOptions {
  /** The declared state keys; empty allows any key. */
  stateKeys?: readonly string[];
}

/**
 * CelCompiled is the outcome of compiling one expression: a program, and
 * every problem found (a program can exist with reference problems).
 */
export interface CelCompiled {
  program?: CelProgram;
  problems: string[];
  /** The variables the expression reads, e.g. `["state", "permissions"]`. */
  reads: Array<keyof CelVars>;
}

/**
 * CelValueProgram is a compiled expression of any type, evaluated to JSON.
 */
export interface CelValueProgram {
  readonly source: string;
  /** evaluate returns the expression's value as JSON, or an Error saying why it has none. */
  evaluate(vars: CelVars): JsonValue | Error;
}

// The environment is immutable and shared: standard functions plus the
// strings extension (lowerAscii, indexOf, split, ...).
const env = celEnv({ funcs: strings });

type Shape =
  | { kind: "object"; what: string; fields: Record<string, Shape> }
  | { kind: "map" }
  | { kind: "value" };

const value: Shape = { kind: "value" };
const map: Shape = { kind: "map" };
const object = (what: string, fields: Record<string, Shape>): Shape => ({ kind: "object", what, fields });

/**
 * Shapes of the variables, for the static check of field references. They
 * mirror what celVars (cel-vars.ts) binds.
 */
const shapes: Record<keyof CelVars, Shape> = {
  state: map,
  input: object("input", {
    text: value,
    intent: value,
    event: object("input.event", { type: value, data: map }),
    metadata: map,
  }),
  result: object("result", {
    text: value,
    intent: value,
    state_patch: map,
    next: object("result.next", { action: value, target_stage: value, target_agent: value, reason: value }),
    metadata: map,
    branches: map,
  }),
  session: object("session", {
    id: value,
    account_id: value,
    tenant: value,
    flow_id: value,
    flow_version: value,
    stage: value,
    previous_stage: value,
    status: value,
    version: value,
    intent: value,
    agent: value,
    completed_stages: value,
    stage_visits: map,
    waiting: object("session.waiting", { reason: value, stage: value }),
  }),
  permissions: value,
};

const variablesOf: Record<CelContext, Array<keyof CelVars>> = {
  precondition: ["state", "input", "session", "permissions"],
  postcondition: ["state", "input", "result", "session", "permissions"],
  transition: ["state", "input", "result", "session", "permissions"],
  invariant: ["state", "input", "session", "permissions"],
  migration: ["state", "session"],
};

// Type names are identifiers in CEL (`type(x) == int`).
const typeNames = new Set(["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"]);

/**
 * compileCel parses an expression once and checks its references: the
 * variables it reads must exist in its context, fields of `input`,
 * `result` and `session` must exist, `state` keys must be declared when the
 * flow declares them, and functions must be known.
 */
export function compileCel(source: string, context: CelContext, opts: CelCompileOptions = {}): CelCompiled {
  const planned = planCel(source, context, opts);
  const evaluate = planned.evaluate;
  if (evaluate === undefined) return { problems: planned.problems, reads: planned.reads };
  const program: CelProgram = {
    source,
    evaluate(vars) {
      const out = evaluatePlanned(evaluate, vars);
      if (out instanceof Error) return out;
      if (typeof out !== "boolean") return new Error(`evaluated to ${describe(out)}, not a bool`);
      return out;
    },
  };
  return { program, problems: planned.problems, reads: planned.reads };
}

/**
 * compileCelValue compiles an expression of any type, checked as
 * compileCel checks it, whose value is read back as JSON (numbers as JSON
 * numbers, maps with string keys as objects); e.g. a migration's `set`.
 */
export function compileCelValue(source: string, context: CelContext, opts: CelCompileOptions = {}): { program?: CelValueProgram; problems: string[] } {
  const planned = planCel(source, context, opts);
  const evaluate = planned.evaluate;
  if (evaluate === undefined) return { problems: planned.problems };
  const program: CelValueProgram = {
    source,
    evaluate(vars) {
      const out = evaluatePlanned(evaluate, vars);
      return out instanceof Error ? out : jsonOf(out);
    },
  };
  return { program, problems: planned.problems };
}

/**
 * evaluatePlanned runs a planned expression; its value, or an Error saying
 * why it has none.
 */
function evaluatePlanned(evaluate: ReturnType<typeof plan>, vars: CelVars): unknown {
  let out: unknown;
  try {
    out = evaluate(vars as unknown as Record<string, CelInput>);
  } catch (e) {
    return new Error(cleanMessage(e));
  }
  return isCelError(out) ? new Error(cleanMessage(out)) : out;
}

function planCel(
  source: string,
  context: CelContext,
  opts: CelCompileOptions,
): { evaluate?: ReturnType<typeof plan>; problems: string[]; reads: Array<keyof CelVars> } {
  if (source.trim() === "") return { problems: ["empty expression"], reads: [] };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (e) {
    return { problems: [`does not compile: ${cleanMessage(e)}`], reads: [] };
  }
  const reads = new Set<keyof CelVars>();
  const problems = checkReferences(parsed.expr, context, opts, reads);
  try {
    return { evaluate: plan(env, parsed), problems, reads: [...reads] };
  } catch (e) {
    return { problems: [...problems, `does not compile: ${cleanMessage(e)}`], reads: [...reads] };
  }
}

/**
 * jsonOf reads a CEL value back as JSON, or says why it cannot be.
 */
function jsonOf(v: unknown): JsonValue | Error {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : new Error(`evaluated to ${v}, which JSON cannot hold`);
  if (typeof v === "bigint") return Number(v);
  if (isCelUint(v)) return Number(v.value);
  if (isCelList(v)) {
    const out: JsonValue[] = [];
    for (const item of v) {
      const j = jsonOf(item);
      if (j instanceof Error) return j;
      out.push(j);
    }
    return out;
  }
  if (isCelMap(v)) {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of v) {
      if (typeof key !== "string") return new Error("evaluated to a map with keys that are not strings");
      const j = jsonOf(item);
      if (j instanceof Error) return j;
      out[key] = j;
    }
    return out;
  }
  return new Error(`evaluated to ${describe(v)}, which is not a JSON value`);
}

type Expr = ReturnType<typeof parse>["expr"];

function checkReferences(root: Expr, context: CelContext, opts: CelCompileOptions, reads: Set<keyof CelVars>): string[] {
  const problems = new Set<string>();
  const allowed = variablesOf[context];
  const stateKeys = opts.stateKeys ?? [];

  const checkChain = (rootName: string, fields: string[]) => {
    if (!(rootName in shapes)) {
      problems.add(`unknown variable ${rootName} (use ${allowed.join(", ")})`);
      return;
    }
    const name = rootName as keyof CelVars;
    reads.add(name);
    if (!allowed.includes(name)) {
      problems.add(`${context}s cannot read ${name} (they can read ${allowed.join(", ")})`);
      return;
    }
    if (name === "state") {
      const key = fields[0];
      if (key !== undefined && stateKeys.length > 0 && !stateKeys.includes(key)) {
        problems.add(`unknown field state.${key}: the flow's state_keys are ${stateKeys.join(", ")}`);
      }
      return;
    }
    let shape = shapes[name];
    for (const field of fields) {
      if (shape.kind !== "object") return;
      const next = shape.fields[field];
      if (next === undefined) {
        problems.add(`unknown field ${shape.what}.${field} (${shape.what} has ${Object.keys(shape.fields).join(", ")})`);
        return;
      }
      shape = next;
    }
  };

  const walk = (expr: Expr | undefined, bound: ReadonlySet<string>): void => {
    if (expr === undefined) return;
    const kind = expr.exprKind;
    switch (kind.case) {
      case "identExpr": {
        const n = kind.value.name;
        if (!bound.has(n) && !typeNames.has(n)) checkChain(n, []);
        return;
      }
      case "selectExpr": {
        // Walk down a chain of field selections to its root identifier.
        const fields: string[] = [kind.value.field];
        let operand = kind.value.operand;
        while (operand?.exprKind.case === "selectExpr") {
          fields.unshift(operand.exprKind.value.field);
          operand = operand.exprKind.value.operand;
        }
        if (operand?.exprKind.case === "identExpr") {
          const n = operand.exprKind.value.name;
          if (!bound.has(n)) checkChain(n, fields);
        } else {
          walk(operand, bound);
        }
        return;
      }
      case "callExpr": {
        const fn = kind.value.function;
        if (/^[A-Za-z]/.test(fn) && env.funcs.find(fn) === undefined) problems.add(`unknown function ${fn}`);
        walk(kind.value.target, bound);
        for (const arg of kind.value.args) walk(arg, bound);
        return;
      }
      case "listExpr":
        for (const e of kind.value.elements) walk(e, bound);
        return;
      case "structExpr":
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === "mapKey") walk(entry.keyKind.value, bound);
          walk(entry.value, bound);
        }
        return;
      case "comprehensionExpr": {
        const c = kind.value;
        walk(c.iterRange, bound);
        walk(c.accuInit, bound);
        const inner = new Set(bound);
        for (const v of [c.iterVar, c.iterVar2, c.accuVar]) if (v) inner.add(v);
        walk(c.loopCondition, inner);
        walk(c.loopStep, inner);
        walk(c.result, inner);
        return;
      }
      default:
        return;
    }
  };
  walk(root, new Set());
  return [...problems];
}

function cleanMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/^<input>:/, "at ").replace(/^syntax error: /, "");
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "bigint") return `the int ${v}`;
  if (typeof v === "number") return `the double ${v}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `a value of type ${typeof v}`;
}
