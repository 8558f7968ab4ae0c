import type { Flow, Migration } from "../gen/switchboard/v1/flow_pb.js";
import { type CelValueProgram, compileCelValue } from "./cel.js";
import type { FlowPath, FlowProblem } from "./flow.js";

/**
 * findMigration returns the migration a flow declares from one of its
 * earlier versions, if it declares one.
 */
export function findMigration(flow: Flow, fromVersion: string): Migration | undefined {
  return flow.migrations.find((m) => m.from === fromVersion);
}

/**
 * CompiledSet is one `set` key of a migration with its compiled expression.
 */
export interface CompiledSet {
  readonly key: string;
  readonly program?: CelValueProgram;
  /** Why the expression did not compile, when it did not. */
  readonly problem?: string;
}

const compiledSets = new WeakMap<Migration, CompiledSet[]>();

/**
 * migrationSets returns a migration's `set` expressions compiled, in key
 * order, compiling them the first time the migration is seen (flows are
 * immutable once loaded).
 */
export function migrationSets(flow: Flow, migration: Migration): readonly CompiledSet[] {
  let sets = compiledSets.get(migration);
  if (sets === undefined) {
    sets = Object.entries(migration.state?.set ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, expr]) => {
        const compiled = compileCelValue(expr, "migration", { stateKeys: flow.stateKeys });
        const problem = compiled.problems[0];
        return { key, ...(compiled.program ? { program: compiled.program } : {}), ...(problem ? { problem } : {}) };
      });
    compiledSets.set(migration, sets);
  }
  return sets;
}

/**
 * migrationLabel names a migration in messages by its path in the flow
 * file and the version it comes from: `migrations[0] (from "1")`.
 */
export function migrationLabel(index: number, migration: Migration): string {
  return `migrations[${index}]${migration.from ? ` (from ${JSON.stringify(migration.from)})` : ""}`;
}

const versionPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * migrationProblems checks a flow's `migrations` on their own: each names
 * an earlier version (not its own, not twice), maps stages onto stages of
 * this flow, renames and sets keys the flow declares (when it declares
 * `state_keys`), and its CEL compiles and reads only `state` and
 * `session`. Each problem names its path in the file.
 */
export function migrationProblems(flow: Flow): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const stages = new Set(flow.stages.map((s) => s.name));
  const declared = (key: string) => flow.stateKeys.length === 0 || flow.stateKeys.includes(key);
  const keysHint = () => `the flow's state_keys are ${flow.stateKeys.join(", ")}`;
  const froms = new Set<string>();
  flow.migrations.forEach((m, i) => {
    const at: FlowPath = ["migrations", i];
    const label = migrationLabel(i, m);
    const problem = (path: FlowPath, message: string) => problems.push({ stage: "", path: [...at, ...path], message: `${label}${pathText(path)}: ${message}` });
    if (m.from === "") problem(["from"], 'names no version to come from (e.g. from: "1")');
    else if (!versionPattern.test(m.from)) problem(["from"], `${JSON.stringify(m.from)} is not a flow version (1 to 128 of A-Z a-z 0-9 . _ : -)`);
    else if (m.from === flow.version) problem(["from"], `a flow version cannot migrate from itself (${flow.version})`);
    else if (froms.has(m.from)) problem(["from"], `a second migration from version ${m.from}; declare one per version`);
    froms.add(m.from);
    for (const [from, to] of Object.entries(m.stages)) {
      if (to === "") problem(["stages", from], `maps stage ${JSON.stringify(from)} to no stage`);
      else if (!stages.has(to)) problem(["stages", from], `maps stage ${JSON.stringify(from)} to ${JSON.stringify(to)}, which is not a stage of this flow (${[...stages].join(", ")})`);
    }
    const state = m.state;
    if (state === undefined) return;
    const renamedTo = new Map<string, string>();
    for (const [from, to] of Object.entries(state.rename)) {
      const path = ["state", "rename", from];
      if (to === "") problem(path, `renames ${JSON.stringify(from)} to an empty key`);
      else if (renamedTo.has(to)) problem(path, `renames both ${JSON.stringify(renamedTo.get(to))} and ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
      else if (!declared(to)) problem(path, `renames ${JSON.stringify(from)} to ${JSON.stringify(to)}, which is not a declared state key (${keysHint()})`);
      renamedTo.set(to, from);
    }
    state.remove.forEach((key, j) => {
      if (key === "") problem(["state", "remove", j], "removes an empty key");
      else if (renamedTo.has(key)) problem(["state", "remove", j], `removes ${JSON.stringify(key)}, which the rename just made`);
    });
    for (const key of Object.keys(state.defaults ?? {})) {
      if (!declared(key)) problem(["state", "defaults", key], `sets a default for ${JSON.stringify(key)}, which is not a declared state key (${keysHint()})`);
    }
    for (const set of migrationSets(flow, m)) {
      const path = ["state", "set", set.key];
      if (!declared(set.key)) problem(path, `sets ${JSON.stringify(set.key)}, which is not a declared state key (${keysHint()})`);
      if (set.problem !== undefined) problem(path, set.problem);
    }
  });
  return problems;
}

/**
 * migrationProblemsAgainst checks a flow's migration from `older` (an
 * earlier version of the same flow, when it is at hand): the stages it
 * maps exist there. (Its state keys are not checked: `state_keys` lists
 * only what CEL reads, and agents may write others.)
 */
export function migrationProblemsAgainst(flow: Flow, older: Flow): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const i = flow.migrations.findIndex((m) => m.from === older.version);
  const m = flow.migrations[i];
  if (m === undefined) return problems;
  const label = migrationLabel(i, m);
  const olderStages = new Set(older.stages.map((s) => s.name));
  const from = `${older.id}@${older.version}`;
  for (const stage of Object.keys(m.stages)) {
    if (!olderStages.has(stage)) {
      const path = ["stages", stage];
      problems.push({ stage: "", path: ["migrations", i, ...path], message: `${label}${pathText(path)}: ${JSON.stringify(stage)} is not a stage of ${from} (${[...olderStages].join(", ")})` });
    }
  }
  return problems;
}

function pathText(path: FlowPath): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("");
}
