import { clone, create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import type { Flow, Migration } from "../gen/switchboard/v1/flow_pb.js";
import { type Session, SessionSchema, SessionStatus, StepKind, StepSchema, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import type { CelVars } from "./cel.js";
import { celVars } from "./cel-vars.js";
import { failedPrecondition } from "./errors.js";
import { findStage, flowKey } from "./flow.js";
import { findMigration, migrationLabel, migrationSets } from "./flow-migration.js";
import { type CompiledCheck, enforceChecks, flowProgram, missingKeyHint } from "./flow-program.js";
import type { AdminFacts, RewrittenVersion } from "./session-admin.js";

/**
 * MigratedVersion is the version a migration is about to commit, with
 * where the session came from.
 */
export interface MigratedVersion extends RewrittenVersion {
  fromVersion: string;
  fromStage: string;
}

/**
 * StateMapping is a session's state moved onto a new flow version, with
 * what changed, for the audit trail.
 */
export interface StateMapping {
  state: JsonObject;
  renamed: string[];
  removed: string[];
  defaulted: string[];
  set: string[];
}

/**
 * mapStage returns the stage a session in `stage` lands in under a
 * migration: the one the stage map names, else the same name.
 */
export function mapStage(migration: Migration, stage: string): string {
  return migration.stages[stage] ?? stage;
}

/**
 * mapState applies a migration's state changes to a state, in order:
 * rename, remove, defaults (for keys still missing), then set (CEL over
 * the state so far and the session as it was). It throws
 * FAILED_PRECONDITION when a `set` expression has no value.
 */
export function mapState(flow: Flow, index: number, migration: Migration, session: Session): StateMapping {
  const before = (session.state ?? {}) as JsonObject;
  const changes = migration.state;
  const out: StateMapping = { state: {}, renamed: [], removed: [], defaulted: [], set: [] };
  const rename = changes?.rename ?? {};
  for (const [key, value] of Object.entries(before)) {
    const to = rename[key];
    if (to !== undefined && to !== key) out.renamed.push(`${key}→${to}`);
    // A renamed key wins over a key the session already had under the new name.
    if (to !== undefined || !(key in out.state)) out.state[to ?? key] = value as JsonValue;
  }
  for (const key of changes?.remove ?? []) {
    if (key in out.state) {
      delete out.state[key];
      out.removed.push(key);
    }
  }
  for (const [key, value] of Object.entries((changes?.defaults ?? {}) as JsonObject)) {
    if (!(key in out.state)) {
      out.state[key] = value;
      out.defaulted.push(key);
    }
  }
  const sets = migrationSets(flow, migration);
  if (sets.length > 0) {
    // Every expression sees the state before any `set`, so their order does not matter.
    const vars = celVars(session, undefined);
    vars.state = { ...out.state } as CelVars["state"];
    for (const { key, program, problem } of sets) {
      const where = `${migrationLabel(index, migration)}.state.set.${key}`;
      if (program === undefined) throw failedPrecondition(`${where} does not compile: ${problem ?? "no expression"}`);
      const value = program.evaluate(vars);
      if (value instanceof Error) throw failedPrecondition(`${where} could not be evaluated: ${value.message}${missingKeyHint(value.message)}`);
      out.state[key] = value;
      out.set.push(key);
    }
  }
  return out;
}

/**
 * migrateVersion builds the version that moves `current` onto `target`,
 * another version of its flow, as the target's migration from the
 * session's version says, and checks it: the session is in progress, a
 * migration is declared, the stage it lands in exists, and the new state
 * satisfies the flow's invariants and the stage's preconditions. Checks
 * that read the turn (`input`, `permissions`) are left to the next turn,
 * which has one. A failed check throws FAILED_PRECONDITION saying why.
 */
export function migrateVersion(current: Session, target: Flow, facts: AdminFacts): MigratedVersion {
  const to = flowKey(target.id, target.version);
  const refuse = (why: string) => failedPrecondition(`session ${current.id} cannot move to ${to}: ${why}`);
  if (target.id !== current.flowId) throw refuse(`it follows flow ${current.flowId}`);
  if (current.flowVersion === target.version) throw refuse("it is on that version already");
  if (current.status === SessionStatus.COMPLETED || current.status === SessionStatus.FAILED) {
    throw refuse(`it has ended (${current.status === SessionStatus.COMPLETED ? "completed" : "failed"}); only a session in progress moves`);
  }
  const migration = findMigration(target, current.flowVersion);
  if (migration === undefined) {
    const froms = target.migrations.map((m) => m.from);
    throw refuse(
      `${to} declares no migration from version ${current.flowVersion} (${froms.length > 0 ? `it migrates from ${froms.join(", ")}` : "it declares none"}); add one under migrations: in its flow file`,
    );
  }
  const index = target.migrations.indexOf(migration);
  const stageName = mapStage(migration, current.stage);
  const stage = findStage(target, stageName);
  if (stage === undefined) {
    throw refuse(
      stageName === current.stage
        ? `stage ${JSON.stringify(current.stage)} is not a stage of ${to} and ${migrationLabel(index, migration)}.stages does not map it`
        : `${migrationLabel(index, migration)}.stages maps ${JSON.stringify(current.stage)} to ${JSON.stringify(stageName)}, which is not a stage of ${to}`,
    );
  }
  let mapped: StateMapping;
  try {
    mapped = mapState(target, index, migration, current);
  } catch (e) {
    throw refuse(ConnectError.from(e).rawMessage);
  }
  const next = clone(SessionSchema, current);
  next.version = current.version + 1n;
  next.flowVersion = target.version;
  next.stage = stage.name;
  next.state = mapped.state;
  const previous = current.previousStage === "" ? "" : mapStage(migration, current.previousStage);
  next.previousStage = findStage(target, previous) !== undefined ? previous : "";
  next.stageVisits = {};
  for (const [name, visits] of Object.entries(current.stageVisits)) {
    const mappedName = mapStage(migration, name);
    if (findStage(target, mappedName) !== undefined) next.stageVisits[mappedName] = (next.stageVisits[mappedName] ?? 0) + visits;
  }
  if (next.waiting !== undefined) next.waiting.stage = stage.name;
  next.updateTime = timestampFromDate(facts.now);
  next.expireTime = timestampFromDate(new Date(facts.now.getTime() + facts.ttlMs));
  const program = flowProgram(target);
  const ofSession = (c: CompiledCheck) => !c.reads.includes("input") && !c.reads.includes("permissions");
  const vars = celVars(next, undefined);
  try {
    enforceChecks("invariant", `flow ${to}`, program.invariants.filter(ofSession), vars);
    enforceChecks("precondition", `stage ${JSON.stringify(stage.name)}`, program.stages.get(stage.name)?.preconditions.filter(ofSession) ?? [], vars);
  } catch (e) {
    throw refuse(ConnectError.from(e).rawMessage);
  }
  const details: Record<string, string> = {
    migrated_from: current.flowVersion,
    migrated_to: target.version,
    from_stage: current.stage,
    to_stage: stage.name,
  };
  if (mapped.renamed.length > 0) details["state_renamed"] = mapped.renamed.join(",");
  if (mapped.removed.length > 0) details["state_removed"] = mapped.removed.join(",");
  if (mapped.defaulted.length > 0) details["state_defaulted"] = mapped.defaulted.join(",");
  if (mapped.set.length > 0) details["state_set"] = mapped.set.join(",");
  const step = create(StepSchema, {
    sessionId: current.id,
    version: next.version,
    kind: StepKind.MIGRATION,
    stage: current.stage,
    status: StepStatus.OK,
    nextStage: stage.name,
    startTime: timestampFromDate(facts.now),
    endTime: timestampFromDate(facts.now),
    details,
  });
  return { session: next, step, fromVersion: current.flowVersion, fromStage: current.stage };
}
