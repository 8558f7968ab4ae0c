import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type InputDelta, type OutputDelta, OutputDeltaSchema, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import { type SendTurnResponse, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import {
  type Session,
  SessionStatus,
  type Step,
  StepKind,
  StepSchema,
  StepStatus,
} from "../gen/switchboard/v1/session_pb.js";
import type { TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import { codeName, notFound } from "./errors.js";
import { interruptTurn, Interruption } from "./interruption.js";
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
  /** More input for the turn's first agent, appended to `input.text` as it streams in. */
  inputStream?: AsyncIterable<InputDelta>;
}

/**
 * TurnOutcome is how a turn ended: a committed result (`heard` is set for a
 * turn cut short by a barge-in) or an error (`recorded` when its step is in
 * the audit trail).
 */
export type TurnOutcome =
  | { result: SendTurnResponse; heard?: string }
  | { error: ConnectError; recorded: boolean };

/**
 * TurnObserver receives a turn's events as they happen, all while the turn
 * holds its session's lock, so a session's events never interleave. The
 * session hub (src/server) publishes them to streams and watchers.
 */
export interface TurnObserver {
  /** begin: the turn holds the lock; `version` is the session's (0 if new). */
  begin?(turnId: string, version: bigint): void | Promise<void>;
  accepted?(stage: string, agent: string): void;
  /** output: a piece of the reply; a returned promise paces the agent. */
  output?(delta: OutputDelta, agent: string): void | Promise<void>;
  transition?(from: string, to: string): void;
  /** steps: the steps about to be stored, one per agent call, in order; details may be added. */
  steps?(steps: Step[]): void;
  /** settled: the turn's outcome, once it is stored. */
  settled?(outcome: TurnOutcome): void;
}

/**
 * TurnRecord is what the engine reports about a finished turn for logging.
 */
export interface TurnRecord {
  sessionId: string;
  turnId: string;
  agent: string;
  stage: string;
  status: "ok" | "failed" | "replayed" | "interrupted";
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
  /** The most reply text one turn may stream, in UTF-16 units (default 1 MiB). */
  maxOutputChars?: number;
}

/**
 * TurnState is what a running turn has streamed so far: its input (with
 * streamed input appended) and each agent call's reply.
 */
interface TurnState {
  input: TurnInput;
  replies: string[];
  replyChars: number;
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

  /**
   * exclusive runs a task while it holds a session's lock, between turns.
   */
  exclusive<T>(sessionId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(sessionId, task);
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
        const result = { ...replay, replayed: true };
        observer.settled?.({ result });
        return result;
      }
    }
    const existing = await store.get(req.sessionId);
    await observer.begin?.(turnId, existing?.version ?? 0n);
    const flow = this.flowFor(existing, req);
    const before =
      existing ??
      newSession(flow, { id: req.sessionId, accountId: req.accountId, tenant: req.tenant, now: startedAt });
    let session = before;
    let plan: TurnPlan | undefined;
    const steps: Step[] = [];
    const state: TurnState = { input: req.input, replies: [], replyChars: 0 };
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
        applied = await this.callAgent(flow, session, plan, req, turnId, before.version + 1n, hop === 0, signal, deadline, observer, state);
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
        agent: plan.agent,
        stageCompleted: plan.stage.name,
        nextStage: session.stage,
        isComplete: session.status === SessionStatus.COMPLETED,
        session,
      });
      observer.steps?.(steps);
      await store.commit({
        session,
        expectedVersion: before.version,
        reason: "turn",
        steps,
        ...(req.turnId !== "" ? { turn: { turnId: req.turnId, result } } : {}),
      });
      observer.settled?.({ result });
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
      let err = ConnectError.from(e);
      if (plan !== undefined && err.code === Code.Canceled && signal.reason instanceof Interruption) {
        // A barge-in is not a failure: the turn is committed as far as the
        // user heard it (unless that commit fails too).
        const done = steps.map((step, i) => ({ step, streamed: state.replies[i] ?? "" }));
        const running = state.replies.length > steps.length ? { plan, streamed: state.replies[steps.length] ?? "" } : undefined;
        try {
          return await this.commitInterrupted(before, session, done, running, req, turnId, state, signal.reason, startedAt, observer);
        } catch (e2) {
          err = ConnectError.from(e2);
        }
      }
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
      const recorded = existing !== undefined && (await this.recordFailure(existing, { ...req, input: state.input }, turnId, plan, err, startedAt, observer));
      observer.settled?.({ error: err, recorded });
      throw err;
    }
  }

  private async commitInterrupted(
    before: Session,
    current: Session,
    done: Array<{ step: Step; streamed: string }>,
    running: { plan: TurnPlan; streamed: string } | undefined,
    req: TurnRequest,
    turnId: string,
    state: TurnState,
    interruption: Interruption,
    startedAt: Date,
    observer: TurnObserver,
  ): Promise<SendTurnResponse> {
    const { clock, store } = this.opts;
    const cut = interruptTurn(current, done, running, {
      turnId,
      version: before.version + 1n,
      input: state.input,
      heard: interruption.heard,
      startedAt,
      now: clock.now(),
      ttlMs: this.opts.sessionTtlMs,
    });
    const last = cut.steps[cut.steps.length - 1];
    const result = create(SendTurnResponseSchema, {
      sessionId: cut.session.id,
      turnId,
      output: cut.steps.map((s) => s.output).filter((o) => o !== "").join("\n"),
      agent: last?.agent ?? "",
      stageCompleted: last?.stage ?? "",
      nextStage: cut.session.stage,
      isComplete: cut.session.status === SessionStatus.COMPLETED,
      session: cut.session,
      interrupted: true,
    });
    observer.steps?.(cut.steps);
    await store.commit({
      session: cut.session,
      expectedVersion: before.version,
      reason: "turn",
      steps: cut.steps,
      ...(req.turnId !== "" ? { turn: { turnId: req.turnId, result } } : {}),
    });
    observer.settled?.({ result, heard: cut.heard });
    this.report({
      sessionId: cut.session.id,
      turnId,
      agent: result.agent,
      stage: result.stageCompleted,
      status: "interrupted",
      latencyMs: clock.now().getTime() - startedAt.getTime(),
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
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver,
    state: TurnState,
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
      inputStreaming: first && req.inputStream !== undefined,
    });
    const call = state.replies.push("") - 1;
    const maxChars = this.opts.maxOutputChars ?? 1 << 20;
    const input = first && req.inputStream !== undefined ? appendInput(req.inputStream, state) : undefined;
    const outcome = await this.opts.invoker.invoke({
      agent: plan.agent,
      start,
      signal,
      timeoutMs,
      ...(input !== undefined ? { input } : {}),
      onDelta: (delta) => {
        state.replies[call] += delta.text;
        state.replyChars += delta.text.length;
        if (state.replyChars > maxChars) {
          throw new ConnectError(`the turn's reply is longer than the limit of ${maxChars} characters`, Code.ResourceExhausted);
        }
        return observer.output?.(delta, plan.agent);
      },
    });
    if (state.replies[call] === "" && outcome.result.text !== "") {
      // An agent that streamed nothing still has its reply reach streams
      // as output, so every client sees every reply the same way.
      state.replies[call] = outcome.result.text;
      await observer.output?.(create(OutputDeltaSchema, { text: outcome.result.text }), plan.agent);
    }
    return applyResult(flow, session, plan, outcome.result, {
      turnId,
      version,
      input: state.input,
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
    observer: TurnObserver,
  ): Promise<boolean> {
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
    observer.steps?.([step]);
    try {
      await this.opts.store.recordFailure(step);
      return true;
    } catch {
      // The audit record of a failure is best effort: the caller still gets
      // the turn's own error, which matters more than the store's.
      return false;
    }
  }

  private report(record: TurnRecord): void {
    this.opts.onTurn?.(record);
  }
}

/**
 * appendInput passes streamed input through to the agent and appends its
 * text to the turn's input, which the transcript and audit trail record.
 */
async function* appendInput(source: AsyncIterable<InputDelta>, state: TurnState): AsyncGenerator<InputDelta> {
  for await (const delta of source) {
    if (delta.text !== "") state.input = { ...state.input, text: state.input.text + delta.text };
    yield delta;
  }
}
