import { Code, ConnectError } from "@connectrpc/connect";
import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import type { Session } from "../gen/switchboard/v1/session_pb.js";
import { codeName, failedPrecondition, hasMark, invalidArgument, notFound } from "./errors.js";
import { flowKey } from "./flow.js";
import { amendHeard, type Heard, Interruption } from "./interruption.js";
import { KeyedMutex } from "./keyed-mutex.js";
import { forkVersion, rollbackVersion } from "./session-admin.js";
import { type MigratedVersion, migrateVersion } from "./session-migration.js";
import type { AgentInvoker, Clock, SessionStore } from "./ports.js";
import { attemptTurn, type AttemptOutcome } from "./turn-attempt.js";
import { commitVersion, recordFailure } from "./turn-commit.js";
import type { EngineDeps, FlowSource, TurnContext } from "./turn-context.js";
import { quietTurnEvents, type TurnEvents, type TurnReport } from "./turn-events.js";
import { defaultMaxOutputChars, defaultMaxSessionVersions, defaultMaxStateBytes } from "./turn-limits.js";
import type { TurnRequest } from "./turn-request.js";

/**
 * EngineOptions configure the engine.
 */
export interface EngineOptions {
  store: SessionStore;
  invoker: AgentInvoker;
  flows: FlowSource;
  clock: Clock;
  /** Generates session and turn ids. */
  newId: () => string;
  /** Idle time after which a session expires. */
  sessionTtlMs: number;
  /** The agent budget when neither the caller nor the stage sets one. */
  defaultAgentTimeoutMs: number;
  /** Called once per turn, e.g. to log it. */
  onTurn?: (report: TurnReport) => void;
  /** The most reply text one turn may stream, in UTF-16 units (default 1 MiB). */
  maxOutputChars?: number;
  /** How often a turn may run from fresh state after losing a compare-and-set to another replica (default 50; the turn's deadline bounds it too). */
  commitAttempts?: number;
  /** The largest session state, in bytes of JSON (default 256 KiB). */
  maxStateBytes?: number;
  /** The most versions a session may have (default 10,000). */
  maxSessionVersions?: number;
}

/**
 * LateBargeIn is a barge-in that came after its turn's reply completed.
 */
export interface LateBargeIn {
  sessionId: string;
  /** The interrupted turn; empty for the latest. */
  turnId: string;
  heard: Heard;
}

/**
 * Amended is what a late barge-in did: the latest turn's reply was cut to
 * what was heard, in a new version, or it was left as it was (already
 * interrupted, or heard in full).
 */
export type Amended = "amended" | "unchanged";

/**
 * Engine runs conversation turns: it picks the stage and agent, calls the
 * agent, applies its result to the session and commits the new version.
 * It is the only writer of sessions: every API that runs turns ends in
 * `runTurn`, a late barge-in in `amend`, and the operations on a session's
 * history in `rollback`, `fork` and `migrate`, each under the session's lock.
 */
export class Engine {
  private readonly locks = new KeyedMutex();
  private readonly deps: EngineDeps;

  constructor(private readonly opts: EngineOptions) {
    this.deps = {
      store: opts.store,
      invoker: opts.invoker,
      flows: opts.flows,
      clock: opts.clock,
      sessionTtlMs: opts.sessionTtlMs,
      defaultAgentTimeoutMs: opts.defaultAgentTimeoutMs,
      maxOutputChars: opts.maxOutputChars ?? defaultMaxOutputChars,
      maxStateBytes: opts.maxStateBytes ?? defaultMaxStateBytes,
      maxSessionVersions: opts.maxSessionVersions ?? defaultMaxSessionVersions,
    };
  }

  /**
   * runTurn runs one turn to its end and answers its result, or throws its
   * error. `deadline` is the absolute time (ms since epoch) by which the
   * caller wants an answer, if it set one; `events` hears the turn as it runs.
   */
  async runTurn(req: TurnRequest, signal: AbortSignal, deadline: number | undefined, events: TurnEvents = quietTurnEvents): Promise<SendTurnResponse> {
    const sessionId = req.sessionId || this.opts.newId();
    const startedAt = this.deps.clock.now();
    let ran = false;
    try {
      // Turns of one session run one at a time on this replica; replicas
      // sharing a database are kept apart by the store's compare-and-set. A
      // turn whose caller is gone by its turn leaves without running.
      return await this.locks.run(
        sessionId,
        () => {
          ran = true;
          return this.runLocked({ ...req, sessionId }, signal, deadline, events);
        },
        { deadline, signal },
      );
    } catch (e) {
      if (!ran) {
        const err = ConnectError.from(e);
        this.report({ req: { ...req, sessionId }, turnId: req.turnId, startedAt }, { flow: "", flowVersion: "", created: false, agent: "", stage: "", status: "failed", code: codeName(err.code), error: err.rawMessage });
      }
      throw e;
    }
  }

  /**
   * amend records a late barge-in: the session's latest turn had completed
   * its reply while the user was still hearing it, so its transcript is cut
   * to what was heard, in a new version. It throws NOT_FOUND for a missing
   * session and FAILED_PRECONDITION for a turn that is not the latest.
   */
  amend(late: LateBargeIn, events: TurnEvents): Promise<Amended> {
    const { store, clock, sessionTtlMs } = this.deps;
    return this.locks.run(late.sessionId, async (): Promise<Amended> => {
      const current = await store.get(late.sessionId);
      if (current === undefined) throw notFound(`session ${late.sessionId}`);
      const amendment = amendHeard(current, { turnId: late.turnId, heard: late.heard, now: clock.now(), ttlMs: sessionTtlMs });
      if (amendment.kind === "unchanged") return "unchanged";
      if (amendment.kind === "not-latest") {
        throw failedPrecondition(
          `turn ${JSON.stringify(late.turnId)} is neither running nor the latest turn of session ${late.sessionId}` +
            `${amendment.latest ? ` (the latest is ${JSON.stringify(amendment.latest)})` : ""}; only the reply being heard can be interrupted`,
        );
      }
      await events.begun({ turnId: amendment.turnId, version: current.version, lastSeq: current.lastSeq });
      const result = await commitVersion(store, events, {
        session: amendment.session,
        expectedVersion: current.version,
        reason: "interruption",
        steps: [amendment.step],
        turnId: amendment.turnId,
        replayId: "",
        answer: {
          output: amendment.heard,
          agent: amendment.step.agent,
          stageCompleted: amendment.step.stage,
          isComplete: amendment.session.status === SessionStatus.COMPLETED,
          interrupted: true,
        },
      });
      events.settled({
        outcome: { kind: "interrupted", result, heard: amendment.heard, heardMs: late.heard.ms ?? 0, afterCompletion: true },
      });
      return "amended";
    });
  }

  /**
   * rollback commits a new version of the session equal to its `version`.
   */
  rollback(sessionId: string, version: bigint): Promise<Session> {
    const { store, clock, sessionTtlMs } = this.deps;
    return this.locks.run(sessionId, async () => {
      const current = await store.get(sessionId);
      if (current === undefined) throw notFound(`session ${sessionId}`);
      if (version >= current.version) throw invalidArgument("version", `must be below the current version ${current.version}`);
      const target = (await store.snapshot(sessionId, version))?.session;
      if (target === undefined) throw notFound(`version ${version} of session ${sessionId}`);
      const next = rollbackVersion(current, target, { now: clock.now(), ttlMs: sessionTtlMs });
      await store.commit({ session: next.session, expectedVersion: current.version, reason: "rollback", steps: [next.step] });
      return next.session;
    });
  }

  /**
   * migrate moves a session onto another version of its flow, as that
   * version's migration from the session's version says (see
   * migrateVersion), and commits the move as a new version; with
   * `validateOnly` it checks the move and answers the version it would
   * commit, committing nothing. A turn in flight on this replica finishes
   * first (the session's lock); one on another replica makes the commit
   * fail with ABORTED (compare-and-set), and nothing changes.
   */
  migrate(sessionId: string, toVersion: string, validateOnly = false): Promise<MigratedVersion> {
    const { store, clock, sessionTtlMs, flows } = this.deps;
    return this.locks.run(sessionId, async () => {
      const current = await store.get(sessionId);
      if (current === undefined) throw notFound(`session ${sessionId}`);
      const target = flows.get(current.flowId, toVersion);
      if (target === undefined) {
        throw failedPrecondition(`session ${sessionId} cannot move to ${flowKey(current.flowId, toVersion)}: that version is not loaded (load its flow file, then ReloadFlows)`);
      }
      const next = migrateVersion(current, target, { now: clock.now(), ttlMs: sessionTtlMs });
      if (!validateOnly) await store.commit({ session: next.session, expectedVersion: current.version, reason: "migration", steps: [next.step] });
      return next;
    });
  }

  /**
   * fork creates a new session (`newSessionId`, or a new id) from a version
   * of another (0: its current one).
   */
  async fork(sessionId: string, version: bigint, newSessionId: string): Promise<Session> {
    const { store, clock, sessionTtlMs } = this.deps;
    const source = await store.get(sessionId);
    if (source === undefined) throw notFound(`session ${sessionId}`);
    const at = version === 0n ? source.version : version;
    const from = (await store.snapshot(sessionId, at))?.session;
    if (from === undefined) throw notFound(`version ${at} of session ${sessionId}`);
    const id = newSessionId || this.opts.newId();
    return this.locks.run(id, async () => {
      if ((await store.get(id)) !== undefined) {
        throw new ConnectError(`session ${id} already exists; choose another new_session_id`, Code.AlreadyExists);
      }
      const fork = forkVersion(from, id, { now: clock.now(), ttlMs: sessionTtlMs });
      await store.commit({ session: fork.session, expectedVersion: 0n, reason: "fork", steps: [fork.step] });
      return fork.session;
    });
  }

  private async runLocked(req: TurnRequest, signal: AbortSignal, deadline: number | undefined, listener: TurnEvents): Promise<SendTurnResponse> {
    const { clock } = this.deps;
    const startedAt = clock.now();
    const turnId = req.turnId || this.opts.newId();
    // Once output reached a caller that sees it stream, the turn cannot run
    // again unseen: a lost compare-and-set is then the turn's end.
    const mayRerun = (sent: boolean) => req.rerun === "anytime" || !sent;
    const maxAttempts = this.opts.commitAttempts ?? 50;
    for (let attempt = 1; ; attempt++) {
      const ctx: TurnContext = { req, turnId, signal, deadline, startedAt, events: listener, attempt };
      const outcome = await attemptTurn(this.deps, ctx);
      if (outcome.kind !== "failed") return this.settle(ctx, outcome);
      const { error, progress } = outcome;
      if (error.code === Code.Aborted && mayRerun(progress.streamed?.sent === true) && attempt < maxAttempts && !signal.aborted) {
        // Listeners saw this run begin: tell them it ended, and why.
        if (progress.begun) {
          const rerun = new ConnectError(`${error.rawMessage.replace(/; send the turn again$/, "")}; running the turn again`, Code.Aborted);
          listener.settled({ outcome: { kind: "retried", error: rerun } });
        }
        // No backoff to speak of: the turn that won is committed, so a
        // fresh read now sees it; waiting longer would only let the
        // winner's next queued turn win again.
        await clock.sleep(Math.random() * 2);
        continue;
      }
      this.report(ctx, { flow: progress.flow, flowVersion: progress.flowVersion, created: false, agent: progress.plan?.agent ?? "", stage: progress.plan?.stage.name ?? progress.existing?.stage ?? "", status: "failed", code: codeName(error.code), error: error.rawMessage });
      const recorded =
        progress.existing !== undefined &&
        !hasMark(error, "store") &&
        (await recordFailure(this.deps.store, listener, {
          session: progress.existing,
          turnId,
          plan: progress.plan,
          input: progress.streamed?.input ?? req.input,
          error,
          startedAt,
          now: clock.now(),
        }));
      if (progress.begun) listener.settled({ outcome: { kind: "failed", error, recorded } });
      throw error;
    }
  }

  /** settle tells the listeners and the report how a turn that did not fail ended. */
  private settle(ctx: TurnContext, outcome: Exclude<AttemptOutcome, { kind: "failed" }>): SendTurnResponse {
    const { result } = outcome;
    const session = result.session;
    const base = {
      flow: session?.flowId ?? "",
      flowVersion: session?.flowVersion ?? "",
      created: outcome.kind !== "replayed" && session?.version === 1n,
      agent: result.agent,
      stage: result.stageCompleted,
    };
    switch (outcome.kind) {
      case "replayed":
        this.report(ctx, { ...base, status: "replayed" });
        break;
      case "interrupted": {
        const reason: unknown = ctx.signal.reason;
        const heardMs = reason instanceof Interruption ? (reason.heard.ms ?? 0) : 0;
        ctx.events.settled({ outcome: { kind: "interrupted", result, heard: outcome.heard, heardMs, afterCompletion: false } });
        this.report(ctx, { ...base, status: "interrupted" });
        break;
      }
      case "committed": {
        ctx.events.settled({ outcome: { kind: "committed", result } });
        const failed = outcome.stageFailure;
        this.report(ctx, {
          ...base,
          status: failed ? "failed" : "ok",
          ...(failed ? { code: codeName(failed.code), error: `${failed.rawMessage} (committed by on_failure)` } : {}),
        });
        break;
      }
    }
    return result;
  }

  private report(ctx: Pick<TurnContext, "req" | "turnId" | "startedAt">, r: Omit<TurnReport, "sessionId" | "turnId" | "latencyMs">): void {
    this.opts.onTurn?.({
      sessionId: ctx.req.sessionId,
      turnId: ctx.turnId,
      ...r,
      latencyMs: this.deps.clock.now().getTime() - ctx.startedAt.getTime(),
    });
  }
}
