import { create } from "@bufbuild/protobuf";
import { copyMessage } from "./copy-message.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Session, SessionSchema, type Step, StepKind, StepSchema, StepStatus } from "../gen/switchboard/v1/session_pb.js";

/**
 * AdminFacts are what a rollback or fork is computed with.
 */
export interface AdminFacts {
  now: Date;
  ttlMs: number;
}

/**
 * RewrittenVersion is a version a rollback or fork is about to commit.
 */
export interface RewrittenVersion {
  session: Session;
  step: Step;
}

/**
 * rollbackVersion builds the version that makes `current` equal to its
 * earlier version `target` again: a new version, so history is never
 * destroyed.
 */
export function rollbackVersion(current: Session, target: Session, facts: AdminFacts): RewrittenVersion {
  const next = copyMessage(SessionSchema, target);
  next.version = current.version + 1n;
  next.createTime = current.createTime;
  // The history goes on: a rollback adds a version, it does not rewind events.
  next.lastSeq = current.lastSeq;
  stamp(next, facts);
  const step = create(StepSchema, {
    sessionId: current.id,
    version: next.version,
    kind: StepKind.ROLLBACK,
    stage: next.stage,
    status: StepStatus.OK,
    nextStage: next.stage,
    startTime: timestampFromDate(facts.now),
    endTime: timestampFromDate(facts.now),
    details: { rolled_back_to: target.version.toString(), rolled_back_from: current.version.toString() },
  });
  return { session: next, step };
}

/**
 * forkVersion builds the first version of a new session `id` that starts
 * as `source` was.
 */
export function forkVersion(source: Session, id: string, facts: AdminFacts): RewrittenVersion {
  const fork = copyMessage(SessionSchema, source);
  fork.id = id;
  fork.version = 1n;
  fork.origin = { $typeName: "switchboard.v1.SessionOrigin", sessionId: source.id, version: source.version };
  fork.createTime = timestampFromDate(facts.now);
  // A fork's history starts with it: the source's events stay the source's.
  fork.lastSeq = 0n;
  stamp(fork, facts);
  const step = create(StepSchema, {
    sessionId: id,
    version: 1n,
    kind: StepKind.FORK,
    stage: fork.stage,
    status: StepStatus.OK,
    nextStage: fork.stage,
    startTime: timestampFromDate(facts.now),
    endTime: timestampFromDate(facts.now),
    details: { forked_from: source.id, forked_version: source.version.toString() },
  });
  return { session: fork, step };
}

function stamp(session: Session, facts: AdminFacts): void {
  session.updateTime = timestampFromDate(facts.now);
  session.expireTime = timestampFromDate(new Date(facts.now.getTime() + facts.ttlMs));
}
