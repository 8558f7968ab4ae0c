import { clone, create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Session,
  SessionSchema,
  StepKind,
  StepSchema,
  StepStatus,
} from "../gen/switchboard/v1/session_pb.js";
import { invalidArgument, notFound } from "./errors.js";
import type { Clock, SessionStore } from "./ports.js";

/**
 * SessionAdmin runs the operations on a session's history: rollback and
 * fork. Both only ever add versions; nothing is deleted.
 */
export class SessionAdmin {
  constructor(
    private readonly store: SessionStore,
    private readonly clock: Clock,
    private readonly newId: () => string,
    private readonly sessionTtlMs: number,
  ) {}

  /**
   * rollback commits a new version of the session equal to `version`.
   */
  async rollback(sessionId: string, version: bigint): Promise<Session> {
    const current = await this.store.get(sessionId);
    if (current === undefined) throw notFound(`session ${sessionId}`);
    if (version >= current.version) {
      throw invalidArgument("version", `must be below the current version ${current.version}`);
    }
    const snapshot = await this.store.snapshot(sessionId, version);
    if (snapshot?.session === undefined) throw notFound(`version ${version} of session ${sessionId}`);
    const now = this.clock.now();
    const next = clone(SessionSchema, snapshot.session);
    next.version = current.version + 1n;
    next.createTime = current.createTime;
    next.updateTime = timestampFromDate(now);
    next.expireTime = timestampFromDate(new Date(now.getTime() + this.sessionTtlMs));
    const step = create(StepSchema, {
      sessionId,
      version: next.version,
      kind: StepKind.ROLLBACK,
      stage: next.stage,
      status: StepStatus.OK,
      nextStage: next.stage,
      startTime: timestampFromDate(now),
      endTime: timestampFromDate(now),
      details: { rolled_back_to: version.toString(), rolled_back_from: current.version.toString() },
    });
    await this.store.commit({ session: next, expectedVersion: current.version, reason: "rollback", steps: [step] });
    return next;
  }

  /**
   * fork creates a new session from a version of another (0: its current one).
   */
  async fork(sessionId: string, version: bigint, newSessionId: string): Promise<Session> {
    const source = await this.store.get(sessionId);
    if (source === undefined) throw notFound(`session ${sessionId}`);
    const at = version === 0n ? source.version : version;
    const snapshot = await this.store.snapshot(sessionId, at);
    if (snapshot?.session === undefined) throw notFound(`version ${at} of session ${sessionId}`);
    const id = newSessionId || this.newId();
    if ((await this.store.get(id)) !== undefined) {
      throw new ConnectError(`session ${id} already exists; choose another new_session_id`, Code.AlreadyExists);
    }
    const now = this.clock.now();
    const fork = clone(SessionSchema, snapshot.session);
    fork.id = id;
    fork.version = 1n;
    fork.origin = { $typeName: "switchboard.v1.SessionOrigin", sessionId, version: at };
    fork.createTime = timestampFromDate(now);
    fork.updateTime = timestampFromDate(now);
    fork.expireTime = timestampFromDate(new Date(now.getTime() + this.sessionTtlMs));
    const step = create(StepSchema, {
      sessionId: id,
      version: 1n,
      kind: StepKind.FORK,
      stage: fork.stage,
      status: StepStatus.OK,
      nextStage: fork.stage,
      startTime: timestampFromDate(now),
      endTime: timestampFromDate(now),
      details: { forked_from: sessionId, forked_version: at.toString() },
    });
    await this.store.commit({ session: fork, expectedVersion: 0n, reason: "fork", steps: [step] });
    return fork;
  }
}
