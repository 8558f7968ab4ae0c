import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type OutputDelta, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import { type SendTurnResponse, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import {
  type Session,
  SessionStatus,
  StepKind,
  StepSchema,
  StepStatus,
} from "../gen/switchboard/v1/session_pb.js";
import type { TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import { codeName, isStoreError, notFound } from "./errors.js";
import { defaultMaxChain, flowKey } from "./flow.js";
import type { AgentInvoker, Clock, SessionStore } from "./ports.js";
import { type AppliedTurn, applyResult, newSession, planTurn, type TurnPlan } from "./turn.js";
import { KeyedMutex } from "./keyed-mutex.js";

/**
 * FlowSource resolves flows by id and version.
 */
export interface FlowSource {
  /** get returns one version of a flow; an empty version means the latest. */
  get(id: string, version: string): Flow | undefined;
  /** defaultFlowId is the flow new sessions follow when the client names none. */
  readonly defaultFlowId: string;
}

/**
 * TurnRequest is one turn as the engine receives it, after the server has
 * validated its fields.
 */
export interface TurnRequest {
  sessionId: string;
  accountId: string;
  flowId: string;
  /** The client's turn id; empty when the client sent none. */
  turnId: string;
  input: TurnInput;
  tenant: string;
  /** Metadata passed through to the agent (trace context, channel). */
  metadata: Record<string, string>;
}

/**
 * TurnObserver receives a turn's events as they happen: the streaming API
 * forwards them to the client, the unary API ignores them.
 */
export interface TurnObserver {
  accepted?(stage: string, agent: string): void;
  output?(delta: OutputDelta, agent: string): void;
  transition?(from: string, to: string): void;
}

/**
 * TurnRecord is what the engine reports about a finished turn for logging.
 */
export interface TurnRecord {
  sessionId: string;
  turnId: string;
  agent: string;
  stage: string;
  status: "ok" | "failed" | "replayed";
  latencyMs: number;
  code?: string;
  error?: string;
}

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
  onTurn?: (record: TurnRecord) => void;
  /** How often a turn may run from fresh state after losing a compare-and-set to another replica (default 50; the turn's deadline bounds it too). */
  commitAttempts?: number;
  /** The largest session state, in bytes of JSON (default 256 KiB). */
  maxStateBytes?: number;
}

/**
 * defaultMaxStateBytes bounds a session's state unless configured otherwise.
 */
export const defaultMaxStateBytes = 256 * 1024;

/** Attempt records how far one run of a turn got, for failure reports. */
interface Attempt {
  existing: Session | undefined;
  plan: TurnPlan | undefined;
  /** Which run of the turn this is, from 1; agents see it as TurnStart.attempt. */
  number: number;
}

/**
 * checkStateSize refuses a state larger than the limit, before anything is
 * committed, with an error that says how large it got.
 */
function checkStateSize(session: Session, limit: number): void {
  const bytes = utf8.encode(JSON.stringify(session.state ?? {})).length;
  if (bytes > limit) {
    throw new ConnectError(
      `the session state would grow to ${bytes} bytes, above the limit of ${limit}; the agent's state patch was not applied`,
      Code.ResourceExhausted,
    );
  }
}

const utf8 = new TextEncoder();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Engine runs conversation turns: it picks the stage and agent, calls the
 * agent, applies its result to the session and commits the new version.
 * Both the unary and the streaming API run turns through `runTurn`.
 */
export class Engine {
  private readonly locks = new KeyedMutex();

  constructor(private readonly opts: EngineOptions) {}

  /**
   * runTurn runs one turn to its end. `deadline` is the absolute time (ms
   * since epoch) by which the caller wants an answer, if it set one.
   */
  async runTurn(
    req: TurnRequest,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver = {},
  ): Promise<SendTurnResponse> {
    const sessionId = req.sessionId || this.opts.newId();
    // Turns of one session run one at a time on this replica; replicas
    // sharing a database are kept apart by the store's compare-and-set.
    return this.locks.run(sessionId, () =>
      this.runLocked({ ...req, sessionId }, signal, deadline, observer),
    );
  }

  private async runLocked(
    req: TurnRequest,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver,
  ): Promise<SendTurnResponse> {
    const { clock } = this.opts;
    const startedAt = clock.now();
    const turnId = req.turnId || this.opts.newId();
    // Once output reached the caller a turn cannot run again unseen, so a
    // lost compare-and-set is retried from fresh state only before that.
    let outputSent = false;
    const watched: TurnObserver = {
      ...observer,
      output: (delta, agent) => {
        outputSent = true;
        observer.output?.(delta, agent);
      },
    };
    const attempt: Attempt = { existing: undefined, plan: undefined, number: 1 };
    for (let n = 1; ; n++) {
      try {
        const result = await this.attemptTurn(req, turnId, signal, deadline, watched, startedAt, attempt);
        this.report({
          sessionId: result.sessionId,
          turnId,
          agent: result.agent,
          stage: result.stageCompleted,
          status: result.replayed ? "replayed" : "ok",
          latencyMs: clock.now().getTime() - startedAt.getTime(),
        });
        return result;
      } catch (e) {
        const err = ConnectError.from(e);
        if (err.code === Code.Aborted && !outputSent && n < this.commitAttempts && !signal.aborted) {
          // No backoff to speak of: the turn that won is committed, so a
          // fresh read now sees it; waiting longer would only let the
          // winner's next queued turn win again.
          await sleep(Math.random() * 2);
          attempt.number = n + 1;
          continue;
        }
        this.report({
          sessionId: req.sessionId,
          turnId,
          agent: attempt.plan?.agent ?? "",
          stage: attempt.plan?.stage.name ?? attempt.existing?.stage ?? "",
          status: "failed",
          latencyMs: clock.now().getTime() - startedAt.getTime(),
          code: codeName(err.code),
          error: err.rawMessage,
        });
        if (attempt.existing !== undefined && !isStoreError(err)) {
          await this.recordFailure(attempt.existing, req, turnId, attempt.plan, err, startedAt);
        }
        throw err;
      }
    }
  }

  private get commitAttempts(): number {
    return this.opts.commitAttempts ?? 50;
  }

  /**
   * attemptTurn runs a turn once from the session's stored state and
   * commits it, or throws. `attempt` tells the caller how far it got.
   */
  private async attemptTurn(
    req: TurnRequest,
    turnId: string,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver,
    startedAt: Date,
    attempt: Attempt,
  ): Promise<SendTurnResponse> {
    const { store } = this.opts;
    attempt.plan = undefined;
    const { session: existing, replay } = await store.load(req.sessionId, req.turnId);
    if (replay !== undefined) return { ...replay, replayed: true };
    attempt.existing = existing;
    const flow = this.flowFor(existing, req);
    const before =
      existing ??
      newSession(flow, { id: req.sessionId, accountId: req.accountId, tenant: req.tenant, now: startedAt });
    let session = before;
    let plan = planTurn(flow, session, req.input);
    attempt.plan = plan;
    const steps = [];
    const maxChain = flow.maxChain > 0 ? flow.maxChain : defaultMaxChain;
    for (let hop = 0; ; hop++) {
      if (hop >= maxChain) {
        throw new ConnectError(
          `turn ran ${maxChain} stages without waiting for input (flow ${flow.id} max_chain); check the flow for a cycle`,
          Code.FailedPrecondition,
        );
      }
      observer.accepted?.(plan.stage.name, plan.agent);
      const applied = await this.callAgent(flow, session, plan, req, turnId, before.version + 1n, hop === 0, attempt.number, signal, deadline, observer);
      steps.push(applied.step);
      session = applied.session;
      if (applied.transition) observer.transition?.(applied.transition.from, applied.transition.to);
      const chain = applied.chain;
      if (chain === undefined) break;
      if (chain.kind === "handoff") {
        plan = { stage: plan.stage, agent: chain.agent, intent: plan.intent, handoffFrom: plan.agent };
      } else {
        plan = planTurn(flow, session, { ...req.input, intent: "", $typeName: "switchboard.v1.TurnInput" });
      }
      attempt.plan = plan;
    }
    checkStateSize(session, this.opts.maxStateBytes ?? defaultMaxStateBytes);
    const result = create(SendTurnResponseSchema, {
      sessionId: session.id,
      turnId,
      output: steps.map((s) => s.output).filter((o) => o !== "").join("\n"),
      agent: plan.agent,
      stageCompleted: plan.stage.name,
      nextStage: session.stage,
      isComplete: session.status === SessionStatus.COMPLETED,
      session,
    });
    await store.commit({
      session,
      expectedVersion: before.version,
      reason: "turn",
      steps,
      ...(req.turnId !== "" ? { turn: { turnId: req.turnId, result } } : {}),
    });
    return result;
  }

  private flowFor(existing: Session | undefined, req: TurnRequest): Flow {
    const { flows } = this.opts;
    if (existing !== undefined) {
      const flow = flows.get(existing.flowId, existing.flowVersion);
      if (flow === undefined) {
        throw new ConnectError(
          `session ${existing.id} follows flow ${flowKey(existing.flowId, existing.flowVersion)}, which is not loaded`,
          Code.FailedPrecondition,
        );
      }
      return flow;
    }
    const id = req.flowId || flows.defaultFlowId;
    const flow = flows.get(id, "");
    if (flow === undefined) throw notFound(`flow ${JSON.stringify(id)}`);
    return flow;
  }

  private async callAgent(
    flow: Flow,
    session: Session,
    plan: TurnPlan,
    req: TurnRequest,
    turnId: string,
    version: bigint,
    first: boolean,
    attemptNumber: number,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver,
  ): Promise<AppliedTurn> {
    const { clock } = this.opts;
    const startedAt = clock.now();
    const stageTimeout = plan.stage.timeout
      ? Number(plan.stage.timeout.seconds) * 1000 + plan.stage.timeout.nanos / 1e6
      : this.opts.defaultAgentTimeoutMs;
    const remaining = deadline === undefined ? Infinity : deadline - startedAt.getTime();
    const timeoutMs = Math.max(0, Math.min(stageTimeout, remaining));
    if (timeoutMs <= 0) {
      throw new ConnectError("the turn's deadline passed before the agent could be called", Code.DeadlineExceeded);
    }
    const start = create(TurnStartSchema, {
      sessionId: session.id,
      turnId,
      accountId: session.accountId,
      flowId: flow.id,
      stage: plan.stage.name,
      intent: plan.intent,
      input: req.input,
      state: session.state ?? {},
      history: session.history,
      budget: durationFromMs(Math.round(timeoutMs)),
      attempt: attemptNumber,
      handoffFrom: plan.handoffFrom,
      metadata: req.metadata,
    });
    const outcome = await this.opts.invoker.invoke({
      agent: plan.agent,
      start,
      signal,
      timeoutMs,
      onDelta: (delta) => observer.output?.(delta, plan.agent),
    });
    return applyResult(flow, session, plan, outcome.result, {
      turnId,
      version,
      input: req.input,
      first,
      instance: outcome.instance,
      attempts: outcome.attempts,
      latencyMs: outcome.latencyMs,
      breaker: outcome.breaker,
      startedAt,
      now: clock.now(),
      ttlMs: this.opts.sessionTtlMs,
    });
  }

  private async recordFailure(
    session: Session,
    req: TurnRequest,
    turnId: string,
    plan: TurnPlan | undefined,
    err: ConnectError,
    startedAt: Date,
  ): Promise<void> {
    const step = create(StepSchema, {
      sessionId: session.id,
      version: session.version,
      turnId,
      kind: StepKind.TURN,
      stage: plan?.stage.name ?? session.stage,
      intent: plan?.intent ?? req.input.intent,
      input: req.input,
      agent: plan?.agent ?? "",
      status: StepStatus.FAILED,
      nextStage: session.stage,
      error: { code: codeName(err.code), message: err.rawMessage },
      startTime: timestampFromDate(startedAt),
      endTime: timestampFromDate(this.opts.clock.now()),
    });
    try {
      await this.opts.store.recordFailure(step);
    } catch {
      // The audit record of a failure is best effort: the caller still gets
      // the turn's own error, which matters more than the store's.
    }
  }

  private report(record: TurnRecord): void {
    this.opts.onTurn?.(record);
  }
}
