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
import { agentCallFactsOf, codeName, isUnroutable, notFound } from "./errors.js";
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
    const { store, clock } = this.opts;
    const startedAt = clock.now();
    const turnId = req.turnId || this.opts.newId();
    if (req.turnId !== "") {
      const replay = await store.turnResult(req.sessionId, req.turnId);
      if (replay !== undefined) {
        this.report({ sessionId: req.sessionId, turnId, agent: replay.agent, stage: replay.stageCompleted, status: "replayed", latencyMs: 0 });
        return { ...replay, replayed: true };
      }
    }
    const existing = await store.get(req.sessionId);
    const flow = this.flowFor(existing, req);
    const before =
      existing ??
      newSession(flow, { id: req.sessionId, accountId: req.accountId, tenant: req.tenant, now: startedAt });
    let session = before;
    let plan: TurnPlan | undefined;
    const steps = [];
    try {
      plan = planTurn(flow, session, req.input);
      const maxChain = flow.maxChain > 0 ? flow.maxChain : defaultMaxChain;
      let applied: AppliedTurn | undefined;
      for (let hop = 0; ; hop++) {
        if (hop >= maxChain) {
          throw new ConnectError(
            `turn ran ${maxChain} stages without waiting for input (flow ${flow.id} max_chain); check the flow for a cycle`,
            Code.FailedPrecondition,
          );
        }
        observer.accepted?.(plan.stage.name, plan.agent);
        applied = await this.callAgent(flow, session, plan, req, turnId, before.version + 1n, hop === 0, signal, deadline, observer);
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
      }
      const result = create(SendTurnResponseSchema, {
        sessionId: session.id,
        turnId,
        output: steps.map((s) => s.output).filter((o) => o !== "").join("\n"),
        agent: steps.at(-1)?.agent || plan.agent,
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
      this.report({
        sessionId: session.id,
        turnId,
        agent: plan.agent,
        stage: plan.stage.name,
        status: "ok",
        latencyMs: clock.now().getTime() - startedAt.getTime(),
      });
      return result;
    } catch (e) {
      const err = ConnectError.from(e);
      this.report({
        sessionId: req.sessionId,
        turnId,
        agent: plan?.agent ?? "",
        stage: plan?.stage.name ?? before.stage,
        status: "failed",
        latencyMs: clock.now().getTime() - startedAt.getTime(),
        code: codeName(err.code),
        error: err.rawMessage,
      });
      if (existing !== undefined) {
        await this.recordFailure(existing, req, turnId, plan, err, startedAt);
      }
      throw err;
    }
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
      attempt: 1,
      handoffFrom: plan.handoffFrom,
      metadata: req.metadata,
    });
    const invoke = (agent: string) =>
      this.opts.invoker.invoke({
        agent,
        start,
        signal,
        timeoutMs,
        onDelta: (delta) => observer.output?.(delta, agent),
        ...(plan.stage.retry !== undefined ? { retry: plan.stage.retry } : {}),
      });
    // When no instance of the agent can be called (none live, or every
    // breaker open), nothing reached it, so the stage's fallback agent may
    // serve the turn instead.
    let served = plan;
    let outcome;
    try {
      outcome = await invoke(plan.agent);
    } catch (e) {
      const fallback = plan.stage.fallbackAgent;
      if (!isUnroutable(e) || fallback === "" || fallback === plan.agent) throw e;
      served = { ...plan, agent: fallback };
      outcome = await invoke(fallback);
    }
    const applied = applyResult(flow, session, served, outcome.result, {
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
    if (served !== plan) applied.step.details["fallback_for"] = plan.agent;
    return applied;
  }

  private async recordFailure(
    session: Session,
    req: TurnRequest,
    turnId: string,
    plan: TurnPlan | undefined,
    err: ConnectError,
    startedAt: Date,
  ): Promise<void> {
    const call = agentCallFactsOf(err);
    const step = create(StepSchema, {
      sessionId: session.id,
      version: session.version,
      turnId,
      kind: StepKind.TURN,
      stage: plan?.stage.name ?? session.stage,
      intent: plan?.intent ?? req.input.intent,
      input: req.input,
      agent: call?.agent || (plan?.agent ?? ""),
      ...(call !== undefined
        ? {
            instance: call.instance,
            attempts: call.attempts,
            latency: durationFromMs(Math.round(call.latencyMs)),
            breaker: call.breaker,
            output: call.output,
          }
        : {}),
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
