import { clone, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import type { Flow, Migration } from "../gen/switchboard/v1/flow_pb.js";
import { type Session, SessionSchema, SnapshotSchema, StepSchema } from "../gen/switchboard/v1/session_pb.js";
import { findMigration } from "../core/flow-migration.js";
import { mapStage } from "../core/session-migration.js";
import type { SessionHistory } from "./case-record.js";
import { replaySession, type SessionReplay } from "./replay.js";

/**
 * replayMigration asks what a session's path would have been on the
 * version `target` it is to move to: its recorded turns are read through
 * the target's migration from the session's version (stages by the stage
 * map, state keys by the renames and removals, so a renamed stage or key
 * is not a difference) and replayed against the target in memory, as
 * replaySession does. A replay with departures, or one that stops, takes
 * another path. Without a migration from the session's version, the
 * recording is replayed as it is.
 */
export function replayMigration(history: SessionHistory, target: Flow): Promise<SessionReplay> {
  const migration = findMigration(target, history.session.flowVersion);
  return replaySession(migration === undefined ? history : mappedHistory(history, migration), target);
}

/**
 * takesAnotherPath tells whether a replay departed from its recording.
 */
export function takesAnotherPath(r: SessionReplay): boolean {
  return r.departures.length > 0 || r.stopped !== undefined;
}

/**
 * mappedHistory rewrites a session's recording in the terms of the
 * version a migration leads to. The copy is the replay's; the history
 * given is not changed.
 */
export function mappedHistory(h: SessionHistory, migration: Migration): SessionHistory {
  const stage = (name: string) => (name === "" ? name : mapStage(migration, name));
  const mapSession = (s: Session) => {
    const out = clone(SessionSchema, s);
    out.stage = stage(out.stage);
    out.previousStage = stage(out.previousStage);
    if (out.state !== undefined) out.state = mappedKeys(out.state, migration);
    return out;
  };
  return {
    session: h.session,
    steps: h.steps.map((s) => {
      const out = clone(StepSchema, s);
      out.stage = stage(out.stage);
      out.nextStage = stage(out.nextStage);
      if (out.statePatch !== undefined) out.statePatch = mappedKeys(out.statePatch, migration);
      return out;
    }),
    snapshots: h.snapshots.map((s) => {
      const out = clone(SnapshotSchema, s);
      if (out.session !== undefined) out.session = mapSession(out.session);
      return out;
    }),
  };
}

function mappedKeys(state: JsonObject, migration: Migration): JsonObject {
  const rename = migration.state?.rename ?? {};
  const remove = new Set(migration.state?.remove ?? []);
  const out: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(state)) {
    const to = rename[key] ?? key;
    if (!remove.has(to) && value !== undefined) out[to] = value;
  }
  return out;
}
